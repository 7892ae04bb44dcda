import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { eventlake, eventlakeJson, tempDir, writeNdjson } from '../support/cli.js';
import { loggedCommandIds } from '../support/lakeLog.js';

type Status = { job: string; lagEvents: number | null; error: string | null; checkpoint: Record<string, number> };
type Summary = { accepted: number; rejected: number; duplicates: number };

const SLOT = 64 * 1024;

/** Every segment's bytes, by path: what "nothing was trimmed" compares. */
function segmentBytes(lake: string): Record<string, string> {
  const log = path.join(lake, 'log');
  return Object.fromEntries(
    fs.readdirSync(log, { recursive: true }).map(String).filter((f) => f.endsWith('.ndjson')).sort().map((f) => [f, fs.readFileSync(path.join(log, f)).toString('base64')]),
  );
}

/** A lake with two ingested files and every job run: the state the attacks start from. */
async function projectedLake(seed: number) {
  const dir = tempDir();
  const lake = path.join(dir, 'lake');
  const first = writeNdjson(path.join(dir, 'first.ndjson'), [...sampleNdjson({ count: 600, seed })]);
  const second = writeNdjson(path.join(dir, 'second.ndjson'), [...sampleNdjson({ count: 300, seed: seed + 1 })]);
  const more = writeNdjson(path.join(dir, 'more.ndjson'), [...sampleNdjson({ count: 200, seed: seed + 2 })]);
  for (const file of [first, second]) await eventlakeJson(['--lake', lake, 'ingest', file]);
  await eventlakeJson(['--lake', lake, 'run']);
  return { dir, lake, first, second, more, head: path.join(lake, 'log', 'HEAD') };
}

/** Flips one bit inside the JSON of the head slot holding the newest commit (its CRC then fails). */
function flipNewestSlot(headFile: string): void {
  const bytes = fs.readFileSync(headFile);
  const commits = [0, 1].map((slot) => {
    const at = slot * SLOT;
    if (bytes.length < at + 8 || bytes.readUInt32LE(at) === 0) return -1;
    return (JSON.parse(bytes.subarray(at + 8, at + 8 + bytes.readUInt32LE(at)).toString()) as { commit: number }).commit;
  });
  const newest = commits[0] > commits[1] ? 0 : 1;
  bytes[newest * SLOT + 8 + 12] ^= 0x04;
  fs.writeFileSync(headFile, bytes);
}

describe('the log head: missing, empty, damaged or replaced', () => {
  it.each(['emptied', 'deleted'])('a %s log/HEAD is refused by every command that opens the log, and `log repair` brings back every record', { timeout: 600_000 }, async (how) => {
    const { lake, first, second, more, head } = await projectedLake(how === 'emptied' ? 71 : 72);
    const ids = loggedCommandIds(lake);
    const before = segmentBytes(lake);
    if (how === 'emptied') fs.writeFileSync(head, '');
    else fs.rmSync(head);

    for (const args of [['ingest', more], ['run'], ['status'], ['seal'], ['rebuild', 'orders']]) {
      const refused = await eventlake(['--lake', lake, ...args]);
      expect(refused.code, `${args[0]}: ${refused.stdout}`).toBe(1);
      expect(refused.stderr, args[0]).toMatch(/holds records .* but has no commit point: .*HEAD is missing or empty.*eventlake log repair/);
    }
    expect(segmentBytes(lake)).toEqual(before); // nothing trimmed

    const repaired = await eventlakeJson<{ written: boolean; losses: string[]; streams: Record<string, { kept: number; dropped: number }> }>(['--lake', lake, 'log', 'repair']);
    expect(repaired.written).toBe(true);
    expect(repaired.losses).toEqual([]);
    expect(repaired.streams.commands).toEqual({ kept: ids.length, dropped: 0, stoppedAt: null });
    expect(segmentBytes(lake)).toEqual(before);

    // Everything acknowledged is back: a replay is all duplicates, the jobs are caught up.
    for (const file of [first, second]) expect(await eventlakeJson<Summary>(['--lake', lake, 'ingest', file])).toMatchObject({ accepted: 0, rejected: 0 });
    const status = await eventlakeJson<Status[]>(['--lake', lake, 'status']);
    expect(status.every((s) => s.lagEvents === 0 && s.error === null), JSON.stringify(status)).toBe(true);
    expect((await eventlakeJson<Summary>(['--lake', lake, 'ingest', more])).accepted).toBeGreaterThan(0);
    expect(loggedCommandIds(lake).slice(0, ids.length)).toEqual(ids);
  });

  it('a damaged newest head slot: ingest trims nothing and reuses no sequence, run refuses, status shows it; repair restores the commit', { timeout: 600_000 }, async () => {
    const { lake, second, more, head } = await projectedLake(81);
    const ids = loggedCommandIds(lake);
    const before = segmentBytes(lake);
    flipNewestSlot(head);

    const ingest = await eventlake(['--lake', lake, 'ingest', more]);
    expect(ingest.code).toBe(1);
    expect(ingest.stderr).toMatch(/slot of .*HEAD is damaged, and records lie beyond .* nothing is trimmed.*eventlake log repair/);
    expect(segmentBytes(lake)).toEqual(before);

    const run = await eventlake(['--lake', lake, 'run', 'orders']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/job orders has read past the log's head \(p\d read to \d+, head at \d+/);
    const status = await eventlakeJson<Status[]>(['--lake', lake, 'status']);
    for (const s of status) {
      expect(s.error, s.job).toMatch(/has read past the log's head/);
      expect(s.lagEvents, s.job).toBeNull();
    }

    await eventlakeJson(['--lake', lake, 'log', 'repair']);
    expect(await eventlakeJson<Summary>(['--lake', lake, 'ingest', second])).toMatchObject({ accepted: 0, rejected: 0 });
    expect((await eventlakeJson<Status[]>(['--lake', lake, 'status'])).every((s) => s.error === null && s.lagEvents === 0)).toBe(true);
    await eventlakeJson(['--lake', lake, 'ingest', more]);
    expect(loggedCommandIds(lake).slice(0, ids.length)).toEqual(ids);
  });

  it('a head replaced by an older copy (both slots valid): ingest and run refuse while a job has read past it', { timeout: 600_000 }, async () => {
    const dir = tempDir();
    const lake = path.join(dir, 'lake');
    const head = path.join(lake, 'log', 'HEAD');
    await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, 'a.ndjson'), [...sampleNdjson({ count: 300, seed: 91 })])]);
    const older = fs.readFileSync(head);
    await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, 'b.ndjson'), [...sampleNdjson({ count: 300, seed: 92 })])]);
    await eventlakeJson(['--lake', lake, 'run', 'command_status']);
    const before = segmentBytes(lake);
    fs.writeFileSync(head, older);

    const ingest = await eventlake(['--lake', lake, 'ingest', writeNdjson(path.join(dir, 'c.ndjson'), [...sampleNdjson({ count: 50, seed: 93 })])]);
    expect(ingest.code).toBe(1);
    expect(ingest.stderr).toMatch(/job command_status has read past the log's head \(commands read to 600, head at 300\)/);
    expect(segmentBytes(lake)).toEqual(before);
    const run = await eventlake(['--lake', lake, 'run', 'command_status']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/job command_status has read past the log's head/);
    const status = await eventlakeJson<Status[]>(['--lake', lake, 'status']);
    expect(status.find((s) => s.job === 'command_status')!.error).toMatch(/read past the log's head/);
    expect(status.find((s) => s.job === 'orders')!.error).toBeNull(); // never ran: nothing to contradict
  });
});
