import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDomains } from '../../domains/loadDomains.js';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { ingestNdjson, type IngestSummary } from '../../ingest/fileIngest.js';
import { Ingester } from '../../ingest/ingester.js';
import { LakeLayout } from '../../lake/layout.js';
import { tempDir } from '../support/cli.js';
import { readLogStream } from '../support/lakeLog.js';

const registry = await loadDomains(['superchargers', 'orders'], process.cwd());

/** A file with everything the triage and the deciders settle: refusals of every kind, duplicates, ids missing, blank lines. */
const WIDE_ID = 'wide';

function messyLines(): string[] {
  const lines = [...sampleNdjson({ count: 6000, seed: 23, invalidShare: 0.05 })];
  const extra = [
    '',
    'not json',
    '{"command_id":"\\udfff","command_name":"RegisterCustomer","received":"2026-01-01T00:00:00Z","command":{"customer_id":"X","customer_name":"Y"}}',
    `{"command_id":"long","command_name":"RegisterCustomer","received":"2026-01-01T00:00:00Z","command":{"customer_id":"L","customer_name":"${'x'.repeat(3000)}"}}`,
    // Under the limit in UTF-16 units, over it in bytes: the limit is in bytes.
    `{"command_id":"${WIDE_ID}","command_name":"RegisterCustomer","received":"2026-01-01T00:00:00Z","command":{"customer_id":"W","customer_name":"${'é'.repeat(1500)}"}}`,
    '{"command_name":"RegisterCustomer","received":"2026-01-01T00:00:00Z","command":{"customer_id":"NOID-1","customer_name":"no id"}}',
    '{"command_name":"RegisterCustomer","received":"2026-01-01T00:00:00Z","command":{"customer_id":"NOID-1","customer_name":"again"}}',
    '{"command_id":"bad-payload","command_name":"CreateOrder","received":"2026-01-01T00:00:00Z","command":{"items":7}}',
    '{"command_id":"unknown","command_name":"Nope","received":"2026-01-01T00:00:00Z","command":{}}',
    '   ',
  ];
  // Replays of earlier lines (duplicates, some within one batch) between new ones.
  return [...lines.slice(0, 3000), ...extra, ...lines.slice(0, 40), ...lines.slice(3000), ...extra, ...lines.slice(2500, 3500)];
}

interface Lake {
  summary: IngestSummary;
  streams: Record<string, Record<string, unknown>[]>;
}

async function ingestWith(deciders: number, file: string): Promise<Lake> {
  const layout = new LakeLayout(tempDir());
  const ingester = await Ingester.open(layout, registry, { partitions: 4, maxCommandBytes: 2048 });
  let summary: IngestSummary;
  try {
    summary = await ingestNdjson(ingester, fs.createReadStream(file), 'messy.ndjson', { deciders, groupSize: 1500 });
    // The write model the deciders leave behind decides what follows as one thread would.
    for (const line of sampleNdjson({ count: 300, seed: 23, invalidShare: 0.05, start: '2027-01-01T00:00:00Z' })) ingester.decideLine(line.replaceAll('"cmd-', '"later-'), 'after');
  } finally {
    await ingester.close();
  }
  const streams = Object.fromEntries(['commands', 'p0', 'p1', 'p2', 'p3'].map((s) => [s, readLogStream(layout.root, s)]));
  return { summary, streams };
}

/** A record without what differs between any two runs: new uuids and the clock. */
function comparable(record: Record<string, unknown>, generated: Map<string, string>): Record<string, unknown> {
  const id = (value: unknown) => (typeof value === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-/.test(value) ? (generated.get(value) ?? (generated.set(value, `uuid-${generated.size}`), `uuid-${generated.size - 1}`)) : value);
  const { eventId, eventIds, ingestedAt, recordedAt, ...rest } = record;
  return { ...rest, commandId: id(rest.commandId), causationId: id(rest.causationId), correlationId: id(rest.correlationId), eventCount: Array.isArray(eventIds) ? eventIds.length : eventId ? 1 : 0 };
}

describe('decider threads', () => {
  it('write the log one thread writes: the same outcomes in the same order, the same events per partition, and the same write model after', async () => {
    const file = path.join(tempDir(), 'messy.ndjson');
    fs.writeFileSync(file, `${messyLines().join('\n')}\n`);
    const [one, two] = [await ingestWith(1, file), await ingestWith(2, file)];
    // A command without an id is decided under a new uuid, different in every run.
    const withoutUuids = (summary: IngestSummary) => ({ ...summary, errors: summary.errors.map((e) => ({ ...e, command_id: e.command_id && /^[0-9a-f]{8}-/.test(e.command_id) ? 'uuid' : e.command_id })) });
    expect(withoutUuids(two.summary)).toEqual(withoutUuids(one.summary));
    expect(one.summary.duplicates).toBeGreaterThan(1000);
    expect([...new Set(one.summary.errors.map((e) => e.code))]).toEqual(expect.arrayContaining(['schema', 'unknown_command', 'duplicate_aggregate', 'not_found']));
    for (const stream of Object.keys(one.streams)) {
      // Generated ids are numbered in order of appearance in each stream, so equal streams compare equal.
      const [a, b] = [new Map<string, string>(), new Map<string, string>()];
      expect(two.streams[stream].map((r) => comparable(r, b)), stream).toEqual(one.streams[stream].map((r) => comparable(r, a)));
    }
  }, 120_000);

  it('remember each command id with the first outcome one thread remembers (its sequence, status and rejection code)', async () => {
    const file = path.join(tempDir(), 'messy.ndjson');
    const lines = messyLines();
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    const firstOutcomes = async (deciders: number) => {
      const ingester = await Ingester.open(new LakeLayout(tempDir()), registry, { partitions: 4, maxCommandBytes: 2048 });
      try {
        await ingestNdjson(ingester, fs.createReadStream(file), 'messy.ndjson', { deciders, groupSize: 1500 });
        // Each line again: a known id answers with the outcome remembered for it.
        return lines.map((line) => {
          const outcome = line.trim() === '' ? null : ingester.decideLine(line, 'again');
          return outcome?.status === 'duplicate' ? outcome.first : outcome?.status;
        });
      } finally {
        await ingester.close({ discard: true });
      }
    };
    const [one, two] = [await firstOutcomes(1), await firstOutcomes(2)];
    expect(two).toEqual(one);
    const wide = lines.findIndex((line) => line.includes(`"${WIDE_ID}"`));
    expect(one[wide]).toBe('rejected');
    expect(one.filter((o) => typeof o === 'object' && o?.status === 'rejected' && o.code !== null).length).toBeGreaterThan(100);
  }, 120_000);

  it('stop, writing nothing, when a command reaches a decider that does not own its aggregate (a domain whose aggregateId fools the routing probe)', async () => {
    const prefixed = await loadDomains([path.join(process.cwd(), 'test/fixtures/prefixedIdDomain.mjs')], process.cwd());
    const file = path.join(tempDir(), 'tags.ndjson');
    const line = (i: number) => JSON.stringify({ command_id: `t-${i}`, command_name: 'TagThing', received: '2026-01-01T00:00:00Z', command: { serial: `R-${i}` } });
    fs.writeFileSync(file, `${Array.from({ length: 200 }, (_, i) => line(i)).join('\n')}\n`);
    const twoLayout = new LakeLayout(tempDir());
    const two = await Ingester.open(twoLayout, prefixed, { partitions: 4 });
    await expect(ingestNdjson(two, fs.createReadStream(file), 'tags.ndjson', { deciders: 2 })).rejects.toThrow(/another decider's/);
    await two.close();
    expect(readLogStream(twoLayout.root, 'commands')).toEqual([]);
    // One thread decides the same file: the domain itself is fine.
    const oneLayout = new LakeLayout(tempDir());
    const one = await Ingester.open(oneLayout, prefixed, { partitions: 4 });
    expect((await ingestNdjson(one, fs.createReadStream(file), 'tags.ndjson', { deciders: 1 })).accepted).toBe(200);
    await one.close();
  }, 60_000);

  it('leave nothing written after a decider fails, and the ingester refuses work until it recovers', async () => {
    const layout = new LakeLayout(tempDir());
    const ingester = await Ingester.open(layout, registry, { partitions: 4 });
    const file = path.join(tempDir(), 'c.ndjson');
    fs.writeFileSync(file, `${[...sampleNdjson({ count: 3000, seed: 3 })].join('\n')}\n`);
    // A handler that throws inside the decider thread only: its registry is loaded there anew.
    const failing = { ...registry, loadedFrom: { names: [path.join(tempDir(), 'missing-domain.mjs')], configDir: '/' } };
    const decidingFor = ingester.decidingFor.bind(ingester);
    ingester.decidingFor = () => ({ ...decidingFor(), registry: failing });
    await expect(ingestNdjson(ingester, fs.createReadStream(file), 'c.ndjson', { deciders: 2 })).rejects.toThrow(/missing-domain|decider/);
    expect(() => ingester.decideLine(fs.readFileSync(file, 'utf8').split('\n')[0], 'x')).toThrow(/stopped/);
    await ingester.close();
    expect(readLogStream(layout.root, 'commands')).toEqual([]);
  }, 60_000);
});
