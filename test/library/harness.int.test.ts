import { AssertionError } from 'node:assert';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { deciderSpec, domainOf, projectionRows, viewRows, type Envelope, type Event, type MergeOf, type Row } from '../../api/index.js';
import { commandWorkflowDomain } from '../../domains/commandWorkflow.js';
import { ordersDomain } from '../../domains/orders.js';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { superchargersDomain } from '../../domains/superchargers.js';
import type { CommandRecord, EventEnvelope } from '../../ingest/envelope.js';
import { eventlake, eventlakeJson, tempDir } from '../support/cli.js';
import { readLogEvents, readLogStream } from '../support/lakeLog.js';
import fs from 'node:fs';

const LONG = 600_000;
const sorted = (rows: Row[]) => rows.map((r) => JSON.stringify(r)).sort();

describe('deciderSpec', () => {
  const spec = deciderSpec(superchargersDomain);
  const registered = { eventType: 'SuperchargerRegistered', data: { supercharger_serial: 'S1', location_name: 'Oslo', supercharger_type: 'V4', lat: 59.9, long: 10.7, status: 'notinuse' } } as const;

  it('given events, when a command, then its events', () => {
    spec.given([registered]).when('ChangeSuperchargerStatus', { supercharger_serial: 'S1', status: 'inuse' }).thenEvents([
      { eventType: 'SuperchargerStatusChanged', data: { supercharger_serial: 'S1', from: 'notinuse', to: 'inuse' } },
    ]);
  });

  it('then a rejection, with its code, message and path', () => {
    spec.given([registered]).when('ChangeSuperchargerStatus', { supercharger_serial: 'S1', status: 'notinuse' }).thenRejected('no_change', { message: /already notinuse/, path: '/command/status' });
    spec.given([]).when('ChangeSuperchargerStatus', { supercharger_serial: 'S1', status: 'inuse' }).thenRejected('not_found');
  });

  it('validates the payload against its schema first, as the ingester does', () => {
    spec.given([]).when('RegisterSupercharger', { supercharger_serial: 'S1', location_name: 'Oslo', supercharger_type: 'V4', lat: 91, long: 0 }).thenRejected('schema', { path: '/command/lat' });
  });

  it('fails with an AssertionError when the decision differs', () => {
    const when = spec.given([registered]).when('ChangeSuperchargerStatus', { supercharger_serial: 'S1', status: 'inuse' });
    expect(() => when.thenEvents([])).toThrow(AssertionError);
    expect(() => when.thenRejected('no_change')).toThrow(/expected a rejection with code "no_change", but the command was accepted/);
    const rejected = spec.given([]).when('ChangeSuperchargerStatus', { supercharger_serial: 'S1', status: 'inuse' });
    expect(() => rejected.thenEvents([])).toThrow(/expected events, but the command was rejected: not_found/);
    expect(() => rejected.thenRejected('invalid_transition')).toThrow(AssertionError);
  });
});

describe('projectionRows: a SQL projection merge rule that depends on batching is refused', () => {
  type Ping = Event<'Pinged', { n: number }>;
  const pings = domainOf<Ping>();
  const events = [1, 2, 3].map((n) => ({ aggregateType: 'pinger', aggregateId: 'P', timestamp: `2026-01-0${n}T00:00:00Z`, eventType: 'Pinged' as const, data: { n } }));
  const projection = (merge: MergeOf<'total' | 'pings' | 'one'>) =>
    pings.sqlProjection({
      name: 'pings',
      version: 1,
      description: 'pings in all',
      columns: [{ name: 'total', type: 'BIGINT' }, { name: 'pings', type: 'BIGINT' }, { name: 'one', type: 'INTEGER' }],
      sql: "SELECT CAST(sum(CAST(data->>'n' AS INTEGER)) AS BIGINT) AS total, count(*) AS pings, 1 AS one FROM events",
      merge,
    });

  it('combine folds each batch into the table', async () => {
    expect(await projectionRows(projection({ kind: 'combine', key: ['one'], columns: { total: 'sum', pings: 'count' } }), events)).toEqual([{ total: 6, pings: 3, one: 1 }]);
  });

  it('append of an aggregate differs between one batch and many, and says so', async () => {
    await expect(projectionRows(projection({ kind: 'append' }), events)).rejects.toThrow(/merge "append" gives different rows when the events arrive in several batches/);
  });
});

describe('the harness computes what the pipeline writes', () => {
  let lake: string;
  let events: EventEnvelope[];
  let commands: CommandRecord[];

  beforeAll(async () => {
    const dir = tempDir();
    lake = path.join(dir, 'lake');
    const file = path.join(dir, 'commands.ndjson');
    fs.writeFileSync(file, [...sampleNdjson({ count: 300, seed: 14, stepSeconds: 600, invalidShare: 0.1 })].join('\n') + '\n');
    expect((await eventlake(['--lake', lake, 'ingest', file])).code).toBe(0);
    expect((await eventlake(['--lake', lake, 'run'])).code).toBe(0);
    events = readLogEvents<EventEnvelope>(lake);
    commands = readLogStream<CommandRecord>(lake, 'commands');
  }, LONG);

  const projections = [...superchargersDomain.projections, ...ordersDomain.projections, ...commandWorkflowDomain.projections];
  it.each(projections.map((p) => [p.name, p]))('%s: projectionRows equals the read model table', async (name, projection) => {
    const table = await eventlakeJson<Row[]>(['--lake', lake, 'query', `SELECT * FROM read_models.${name}`]);
    const rows = await projectionRows(projection, projection.source === 'events' ? events : commands);
    expect(rows.length).toBeGreaterThan(0);
    expect(sorted(rows)).toEqual(sorted(table));
  }, LONG);

  it('viewRows over the harness rows answers a view as the views database does', async () => {
    const models: Record<string, Row[]> = {};
    for (const projection of superchargersDomain.projections) models[projection.name] = await projectionRows(projection, events);
    const middle = events[Math.floor(events.length / 2)].timestamp.replace('T', ' ').replace('Z', '');
    for (const sql of [`SELECT * FROM superchargers_as_of(TIMESTAMP '${middle}')`, 'SELECT * FROM daily_status_changes', 'SELECT * FROM supercharger_status_history']) {
      const expected = await eventlakeJson<Row[]>(['--lake', lake, 'query', sql]);
      expect(expected.length, sql).toBeGreaterThan(0);
      expect(sorted(await viewRows(superchargersDomain, models, sql)), sql).toEqual(sorted(expected));
    }
  }, LONG);
});

// Compile-time checks of the typed API (vitest does not type-check; `npm run typecheck` of the
// template and docs does, in typedApi.int.test.ts). Here: the envelope type narrows by event type.
export function narrowed(e: Envelope<Event<'A', { a: number }> | Event<'B', { b: string }>>): string {
  return e.eventType === 'A' ? String(e.data.a) : e.data.b;
}
