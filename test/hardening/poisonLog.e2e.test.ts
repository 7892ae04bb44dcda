import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { LakeLayout } from '../../lake/layout.js';
import { LogWriter } from '../../lake/log/logWriter.js';
import { eventlake, eventlakeJson, tempDir, writeNdjson } from '../support/cli.js';

type Status = { job: string; lagEvents: number | null; lagSeconds: number | null; error: string | null };

const LEAP = '2016-12-31T23:59:60.000Z';

/**
 * Records as an ingester before the storable-input rules logged them (they can no longer be
 * ingested): an event and a command record at a leap second, an event with a lone surrogate.
 */
async function appendPreFixRecords(lake: string): Promise<{ leapSequence: number }> {
  const writer = await LogWriter.open(new LakeLayout(lake));
  const event = (partition: number, sequence: number, timestamp: string, serial: string) =>
    JSON.stringify({ eventId: `00000000-0000-4000-8000-00000000000${partition}`, eventType: 'SuperchargerRegistered', aggregateId: serial, aggregateType: 'supercharger', version: 1, timestamp, correlationId: 'old', causationId: 'old', data: { supercharger_serial: serial, location_name: 'x', supercharger_type: 'V3', lat: 0, long: 0, status: 'notinuse' }, schemaVersion: 1, metadata: { source: 'old' }, partition, sequence, ingestedAt: '2017-01-01T00:00:00.000Z' });
  const leapSequence = writer.assignSequence('p0');
  writer.stage('p0', leapSequence, event(0, leapSequence, LEAP, 'LEAP-1'), LEAP);
  const surrogate = writer.assignSequence('p1');
  writer.stage('p1', surrogate, event(1, surrogate, '2017-01-01T00:00:00.000Z', 'SUR\udfff'), '2017-01-01T00:00:00.000Z');
  const command = writer.assignSequence('commands');
  writer.stage('commands', command, JSON.stringify({ sequence: command, commandId: 'old-leap', commandName: 'RegisterCustomer', status: 'rejected', code: 'schema', message: 'x', path: null, eventIds: [], aggregateType: null, aggregateId: null, received: LEAP, correlationId: null, source: 'old', recordedAt: LEAP }), LEAP);
  await writer.commit();
  await writer.close();
  return { leapSequence };
}

/** Every string in a JSON value is well-formed Unicode (what jq and other strict readers need). */
function wellFormedThroughout(value: unknown): boolean {
  if (typeof value === 'string') return value.isWellFormed();
  if (value === null || typeof value !== 'object') return true;
  return Object.entries(value).every(([k, v]) => k.isWellFormed() && wellFormedThroughout(v));
}

describe('records logged before the storable-input rules', () => {
  it('seal holds a stream at a record Parquet cannot store, says why, and keeps working; status never shows NaN', { timeout: 600_000 }, async () => {
    const dir = tempDir();
    const lake = path.join(dir, 'lake');
    await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, 'a.ndjson'), [...sampleNdjson({ count: 400, seed: 121 })])]);
    const { leapSequence } = await appendPreFixRecords(lake);
    await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, 'b.ndjson'), [...sampleNdjson({ count: 400, seed: 122 })])]);

    for (let round = 0; round < 2; round++) {
      const seal = await eventlakeJson<{ sealed: Record<string, number>; held: Record<string, { sequence: number; reason: string }> }>(['--lake', lake, 'seal']);
      expect(seal.held.p0?.sequence, JSON.stringify(seal)).toBe(leapSequence);
      expect(seal.held.p0.reason).toMatch(/timestamp/);
      if (round === 0) {
        expect(seal.sealed.p0).toBe(leapSequence - 1);
        expect(seal.sealed.p2).toBeGreaterThan(0);
      }
    }
    expect(fs.readdirSync(path.join(lake, 'log', 'sealed', 'p0'))).toEqual([`${'1'.padStart(20, '0')}-${String(leapSequence - 1).padStart(20, '0')}.parquet`]);

    const text = await eventlake(['--lake', lake, 'status']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).not.toMatch(/NaN/);
    const json = await eventlake(['--lake', lake, 'status', '--json']);
    const statuses = JSON.parse(json.stdout) as Status[];
    for (const s of statuses) {
      expect(typeof s.lagSeconds, s.job).toBe('number');
      expect(Number.isFinite(s.lagSeconds), s.job).toBe(true);
      expect(s.lagEvents, s.job).toBeGreaterThan(0);
    }
    expect(wellFormedThroughout(statuses)).toBe(true);
  });

  it('one truncated commit in one table: status reports that job and why, and every other job as usual', { timeout: 600_000 }, async () => {
    const dir = tempDir();
    const lake = path.join(dir, 'lake');
    await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, 'a.ndjson'), [...sampleNdjson({ count: 300, seed: 123 })])]);
    await eventlakeJson(['--lake', lake, 'run']);
    const commit = path.join(lake, 'tables', 'orders', '_delta_log', '00000000000000000000.json');
    fs.truncateSync(commit, Math.floor(fs.statSync(commit).size / 2));

    const result = await eventlake(['--lake', lake, 'status', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const statuses = JSON.parse(result.stdout) as Status[];
    const orders = statuses.find((s) => s.job === 'orders')!;
    expect(orders.error).toMatch(/cannot read the table .*tables\/orders/);
    expect(orders.lagEvents).toBeNull();
    for (const s of statuses.filter((x) => x.job !== 'orders')) expect(s, s.job).toMatchObject({ error: null, lagEvents: 0 });
    const text = await eventlake(['--lake', lake, 'status']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/orders .*cannot read the table/);
  });
});
