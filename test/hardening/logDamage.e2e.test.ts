import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { eventlake, eventlakeJson, tempDir, writeNdjson } from '../support/cli.js';

/** A lake with events in every partition and the jobs run once. */
async function lakeWithEvents(seed: number) {
  const dir = tempDir();
  const lake = path.join(dir, 'lake');
  await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, 'a.ndjson'), [...sampleNdjson({ count: 800, seed })])]);
  const more = writeNdjson(path.join(dir, 'b.ndjson'), [...sampleNdjson({ count: 50, seed: seed + 1 })]);
  return { dir, lake, more, segment: path.join(lake, 'log', 'p1', '00000000000000000001.ndjson') };
}

const locks = (lake: string) => (fs.existsSync(path.join(lake, 'locks')) ? fs.readdirSync(path.join(lake, 'locks')) : []);

/** The error is one line of ours (no stack trace, no uncaught exception), naming stream, segment file and byte. */
function expectNamedDamage(stderr: string, segment: string, byte: number | RegExp): void {
  expect(stderr).toMatch(/^eventlake: lake log stream p1 is damaged at byte/);
  expect(stderr).not.toMatch(/\n\s+at /);
  const at = typeof byte === 'number' ? String(byte) : byte.source;
  expect(stderr).toMatch(new RegExp(`damaged at byte ${at} of ${segment.replaceAll('.', '\\.')}`));
}

describe('a damaged segment is named, never read past, and leaves no lock', () => {
  it('a line deleted from the middle of a segment: rebuild names where the lost record was; ingest refuses at open', { timeout: 600_000 }, async () => {
    const { lake, more, segment } = await lakeWithEvents(111);
    const lines = fs.readFileSync(segment, 'utf8').split('\n');
    const deletedAt = Buffer.byteLength(lines.slice(0, 40).map((l) => `${l}\n`).join(''));
    lines.splice(40, 1);
    fs.writeFileSync(segment, lines.join('\n'));

    const rebuild = await eventlake(['--lake', lake, 'rebuild', 'superchargers']);
    expect(rebuild.code).toBe(1);
    expectNamedDamage(rebuild.stderr, segment, deletedAt);
    expect(rebuild.stderr).toMatch(/the record in the place of sequence 41 holds 42: records were lost or added before it/);
    expect(locks(lake)).toEqual([]);

    const ingest = await eventlake(['--lake', lake, 'ingest', more]);
    expect(ingest.code).toBe(1);
    expectNamedDamage(ingest.stderr, segment, /\d+/);
    expect(locks(lake)).toEqual([]);
  });

  it('zeroed bytes in the middle of a segment: ingest refuses at open, rebuild names the first zero', { timeout: 600_000 }, async () => {
    const { lake, more, segment } = await lakeWithEvents(112);
    const bytes = fs.readFileSync(segment);
    const zeroedAt = bytes.indexOf('"data"', 9_000) + 3;
    bytes.fill(0, zeroedAt, zeroedAt + 64);
    fs.writeFileSync(segment, bytes);

    const ingest = await eventlake(['--lake', lake, 'ingest', more]);
    expect(ingest.code).toBe(1);
    expectNamedDamage(ingest.stderr, segment, zeroedAt);
    expect(ingest.stderr).toMatch(/a NUL byte \(zeroed or lost data\)/);
    const rebuild = await eventlake(['--lake', lake, 'rebuild', 'orders']);
    expect(rebuild.code).toBe(1);
    expectNamedDamage(rebuild.stderr, segment, zeroedAt);
    expect(locks(lake)).toEqual([]);
  });
});
