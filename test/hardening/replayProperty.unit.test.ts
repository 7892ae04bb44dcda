import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { commandWorkflowDomain } from '../../domains/commandWorkflow.js';
import { ordersDomain } from '../../domains/orders.js';
import { registryOf } from '../../domains/registry.js';
import { superchargersDomain } from '../../domains/superchargers.js';
import type { CommandRecord, EventEnvelope } from '../../ingest/envelope.js';
import { Ingester } from '../../ingest/ingester.js';
import { LakeLayout } from '../../lake/layout.js';
import { tempDir } from '../support/cli.js';
import { expectedFrom } from '../support/referenceModel.js';
import { readLogStream } from '../support/lakeLog.js';

const registry = registryOf([commandWorkflowDomain, superchargersDomain, ordersDomain]);

/** Commands over a tiny alphabet, so collisions (duplicates, no_change, not_found) are common. */
const command = fc.oneof(
  fc.record({ kind: fc.constant('register'), serial: fc.constantFrom('S1', 'S2', 'S3'), lat: fc.constantFrom(10, 95) }),
  fc.record({ kind: fc.constant('charger'), serial: fc.constantFrom('S1', 'S2', 'S4'), status: fc.constantFrom('inuse', 'notinuse', 'serviced', 'decomissioned', 'broken') }),
  fc.record({ kind: fc.constant('order'), order: fc.constantFrom('O1', 'O2'), quantity: fc.constantFrom(1, 0) }),
  fc.record({ kind: fc.constant('orderStatus'), order: fc.constantFrom('O1', 'O2', 'O3'), status: fc.constantFrom('Created', 'Paid', 'Shipped', 'Delivered', 'Cancelled') }),
  fc.record({ kind: fc.constant('junk'), text: fc.constantFrom('{', 'null', '[]', '{"command_name":"Nope","received":"2026-01-01T00:00:00Z","command":{}}') }),
);

function toLine(c: any, i: number, id: number): string {
  const base = { command_id: `id-${id}`, received: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString() };
  switch (c.kind) {
    case 'register':
      return JSON.stringify({ ...base, command_name: 'RegisterSupercharger', command: { supercharger_serial: c.serial, location_name: 'L', supercharger_type: 'V3', lat: c.lat, long: 0 } });
    case 'charger':
      return JSON.stringify({ ...base, command_name: 'ChangeSuperchargerStatus', command: { supercharger_serial: c.serial, status: c.status } });
    case 'order':
      return JSON.stringify({ ...base, command_name: 'CreateOrder', command: { order_id: c.order, customer_id: 'C', items: [{ sku: 'x', quantity: c.quantity, unit_price: 2 }] } });
    case 'orderStatus':
      return JSON.stringify({ ...base, command_name: 'ChangeOrderStatus', command: { order_id: c.order, status: c.status } });
    default:
      return c.text;
  }
}

const scenario = fc.record({
  // Ids from a small pool, so some repeat. (A command without an id cannot be deduplicated: a
  // replay decides it again, which is why only junk lines go without one here.)
  commands: fc.array(fc.tuple(command, fc.nat(25)), { minLength: 1, maxLength: 60 }),
  // Each session reads the file from the start, commits every `group` lines and crashes after `stop` lines.
  sessions: fc.array(fc.record({ group: fc.integer({ min: 1, max: 9 }), stop: fc.nat(60) }), { maxLength: 3 }),
});

function read<T>(layout: LakeLayout, stream: string): T[] {
  return readLogStream<T>(layout.root, stream);
}

async function session(layout: LakeLayout, lines: string[], group: number, stop: number, crash = true): Promise<void> {
  const ingester = await Ingester.open(layout, registry, { partitions: 2, snapshotEvery: 20 });
  for (let i = 0; i < Math.min(stop, lines.length); i++) {
    ingester.decideLine(lines[i], `file:f:${i + 1}`);
    if ((i + 1) % group === 0) await ingester.commit();
  }
  await ingester.close({ discard: crash }); // the crash: what was not committed is lost
}

/** What a log says, without the parts that differ from run to run (ids, clocks). */
function logContent(layout: LakeLayout) {
  // Junk lines have no id, so each replay that reaches one records it again: compare the rest.
  const records = read<CommandRecord>(layout, 'commands').filter((r) => r.commandId.startsWith('id-')).map((r) => [r.commandId, r.commandName, r.status, r.code, r.eventIds.length, r.source]);
  const events = [0, 1].flatMap((p) => read<EventEnvelope>(layout, `p${p}`)).map((e) => [e.partition, e.sequence, e.aggregateId, e.version, e.eventType, e.timestamp, JSON.stringify(e.data)]);
  return { records, events };
}

describe('any sequence of commands, with replays and crash points', () => {
  it('reaches exactly the log of one uninterrupted run, whose outcomes match the reference model', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ commands, sessions }) => {
        const lines = commands.map(([c, id], i) => toLine(c, i, id));
        const crashed = new LakeLayout(tempDir());
        for (const s of sessions) await session(crashed, lines, s.group, s.stop);
        await session(crashed, lines, 7, lines.length, false); // the final, complete replay
        const clean = new LakeLayout(tempDir());
        const ingester = await Ingester.open(clean, registry, { partitions: 2 });
        const codes = lines.map((l, i) => {
          const outcome = ingester.decideLine(l, `file:f:${i + 1}`);
          return outcome.status === 'rejected' ? outcome.code : outcome.status;
        });
        await ingester.close();
        expect(logContent(crashed)).toEqual(logContent(clean));
        expect(codes).toEqual(expectedFrom(lines).codes);
      }),
      { numRuns: Number(process.env.EVENTLAKE_PROPERTY_RUNS ?? 40) },
    );
  });
});
