import fs from 'node:fs';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { registryOf } from '../../domains/registry.js';
import { ordersDomain } from '../../domains/orders.js';
import { sampleCommands } from '../../domains/sampleCommands.js';
import { superchargersDomain } from '../../domains/superchargers.js';
import { commandWorkflowDomain } from '../../domains/commandWorkflow.js';
import type { CommandRecord, EventEnvelope } from '../../ingest/envelope.js';
import { ingestNdjson } from '../../ingest/fileIngest.js';
import { Ingester } from '../../ingest/ingester.js';
import { LakeLayout } from '../../lake/layout.js';
import { tempDir } from '../support/cli.js';
import { readLogStream } from '../support/lakeLog.js';

const registry = registryOf([commandWorkflowDomain, superchargersDomain, ordersDomain]);

function logRecords<T>(layout: LakeLayout, stream: string): T[] {
  return readLogStream<T>(layout.root, stream);
}

async function ingest(layout: LakeLayout, commands: unknown[], options = {}): Promise<Ingester> {
  const ingester = await Ingester.open(layout, registry, { partitions: 3, ...options });
  commands.forEach((c, i) => ingester.decide(c, `test:${i}`));
  await ingester.commit();
  return ingester;
}

describe('ingester', () => {
  it('writes the design envelope with gap-free versions per aggregate and sequences per partition', async () => {
    const layout = new LakeLayout(tempDir());
    const commands = [...sampleCommands({ count: 3000, seed: 5 })];
    await (await ingest(layout, commands)).close();
    const events = [0, 1, 2].flatMap((p) => logRecords<EventEnvelope>(layout, `p${p}`));
    expect(events.length).toBeGreaterThan(2500);
    for (const p of [0, 1, 2]) {
      const sequences = events.filter((e) => e.partition === p).map((e) => e.sequence);
      expect(sequences).toEqual(sequences.map((_, i) => i + 1));
    }
    const versions = new Map<string, number[]>();
    for (const e of events) versions.set(e.aggregateId, [...(versions.get(e.aggregateId) ?? []), e.version]);
    for (const list of versions.values()) expect(list).toEqual(list.map((_, i) => i + 1));
    const first = events.find((e) => e.eventType === 'SuperchargerRegistered')!;
    expect(Object.keys(first).sort()).toEqual(['aggregateId', 'aggregateType', 'causationId', 'correlationId', 'data', 'eventId', 'eventType', 'ingestedAt', 'metadata', 'partition', 'schemaVersion', 'sequence', 'timestamp', 'version'].sort());
    const command = commands.find((c) => c.command_id === first.causationId)!;
    expect(first.timestamp).toBe(new Date(command.received).toISOString());
    expect(first.eventId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('records every outcome in arrival order, and a repeated id is answered with its first outcome', async () => {
    const layout = new LakeLayout(tempDir());
    const ingester = await Ingester.open(layout, registry, { partitions: 1 });
    const register = { command_id: 'a', command_name: 'RegisterCustomer', received: '2026-01-01T00:00:00Z', command: { customer_id: 'c1', customer_name: 'Ann' } };
    const bad = { command_id: 'b', command_name: 'CreateOrder', received: '2026-01-01T00:00:00Z', command: { order_id: 'o1' } };
    expect(ingester.decide(register, 't').status).toBe('accepted');
    expect(ingester.decide(bad, 't')).toMatchObject({ status: 'rejected', code: 'schema', path: '/command/customer_id' });
    expect(ingester.decide({ ...bad, command: { order_id: 'o1', customer_id: 'c1', items: [{ sku: 's', quantity: 1, unit_price: 1 }] } }, 't')).toMatchObject({ status: 'duplicate', first: { status: 'rejected', code: 'schema' } });
    await ingester.commit();
    expect((await ingester.commandRecord('a'))?.eventIds.length).toBe(1);
    await ingester.close();
    const records = logRecords<CommandRecord>(layout, 'commands');
    expect(records.map((r) => [r.sequence, r.commandId, r.status])).toEqual([[1, 'a', 'completed'], [2, 'b', 'rejected']]);
  });

  it('starts from a snapshot instead of replaying the whole log', async () => {
    const layout = new LakeLayout(tempDir());
    const commands = [...sampleCommands({ count: 2000, seed: 6 })];
    await (await ingest(layout, commands.slice(0, 1500), { snapshotEvery: 1000 })).close();
    expect(fs.readdirSync(layout.snapshotsDir).some((f) => f.startsWith('write-model-'))).toBe(true);
    const reopened = await ingest(layout, commands.slice(1500), { snapshotEvery: 1_000_000 });
    expect(reopened.replayedAtStart).toBe(0);
    await reopened.close();
    const third = await Ingester.open(layout, registry);
    expect(third.replayedAtStart).toBeGreaterThan(0); // the 500 commands after the snapshot
    expect(third.replayedAtStart).toBeLessThan(1500);
    // Decisions after a snapshot start are the same as after a full replay.
    const again = commands.slice(0, 50).map((c) => third.decide({ ...c, command_id: `again-${c.command_id}` }, 't').status);
    await third.close();
    fs.rmSync(layout.snapshotsDir, { recursive: true });
    const full = await Ingester.open(layout, registry);
    expect(full.replayedAtStart).toBeGreaterThan(2000);
    expect(commands.slice(0, 50).map((c) => full.decide({ ...c, command_id: `again-${c.command_id}` }, 't').status)).toEqual(again.map(() => 'duplicate'));
    await full.close();
  });

  it('treats a received time without an offset as UTC', async () => {
    const layout = new LakeLayout(tempDir());
    const ingester = await Ingester.open(layout, registry, { partitions: 1 });
    ingester.decide({ command_name: 'RegisterCustomer', received: '2026-05-01T10:00:00', command: { customer_id: 'c', customer_name: 'n' } }, 't');
    await ingester.close();
    expect(logRecords<EventEnvelope>(layout, 'p0')[0].timestamp).toBe('2026-05-01T10:00:00.000Z');
  });

  it('answers a repeated command id with its first outcome across restarts, from a snapshot or from the log, and writes nothing', async () => {
    const layout = new LakeLayout(tempDir());
    const commands = [...sampleCommands({ count: 400, seed: 9, invalidShare: 0.2 }), { command_id: 'ünïcode-😀-\u00e9', command_name: 'RegisterCustomer', received: '2026-01-01T00:00:00Z', command: { customer_id: 'u1', customer_name: 'U' } }];
    const file = commands.map((c) => JSON.stringify(c)).join('\n');
    const first = await Ingester.open(layout, registry, { partitions: 2, snapshotEvery: 1 });
    const summary = await ingestNdjson(first, Readable.from([file]), 'f.ndjson');
    await first.close();
    expect(summary.rejected).toBeGreaterThan(0);
    const records = logRecords<CommandRecord>(layout, 'commands');
    const firstOutcomes = records.map((r) => ({ sequence: r.sequence, status: r.status, code: r.code }));
    const logBytes = () => fs.readdirSync(layout.root, { recursive: true }).filter((f) => String(f).startsWith('log/') && String(f).endsWith('.ndjson')).map((f) => fs.statSync(`${layout.root}/${f}`).size);
    const before = logBytes();
    for (const snapshot of ['with the snapshot', 'without it'] as const) {
      if (snapshot === 'without it') fs.rmSync(layout.snapshotsDir, { recursive: true });
      const reopened = await Ingester.open(layout, registry);
      expect(reopened.replayedAtStart === 0).toBe(snapshot === 'with the snapshot');
      const outcomes = commands.map((c) => reopened.decide(c, 't'));
      expect(outcomes.map((o) => (o.status === 'duplicate' ? o.first : o))).toEqual(firstOutcomes);
      const replay = await ingestNdjson(reopened, Readable.from([file]), 'f.ndjson');
      expect(replay).toMatchObject({ accepted: 0, rejected: 0, duplicates: commands.length, errors: [] });
      await reopened.close();
      expect(logBytes()).toEqual(before);
    }
  });
});
