import fs from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { LakeLayout } from '../../lake/layout.js';
import { LogDamageError, parseLogLine } from '../../lake/log/logDamage.js';
import { readHead, type StreamHead } from '../../lake/log/logHead.js';
import { LogWriter } from '../../lake/log/logWriter.js';
import { segmentPath } from '../../lake/log/segments.js';
import { StreamCursor } from '../../lake/log/streamCursor.js';
import { LocalStorage } from '../../lake/storage/localStorage.js';
import { rejection } from '../support/rejection.js';
import { tempDir } from '../support/cli.js';

/** A one-partition log of `count` records `{"sequence":N,"pad":"..."}`, in segments of about `segmentBytes`. */
async function logOf(count: number, segmentBytes = 1 << 30): Promise<{ layout: LakeLayout; head: StreamHead }> {
  const layout = new LakeLayout(tempDir());
  const writer = await LogWriter.open(layout, { partitions: 1, segmentBytes });
  for (let i = 0; i < count; i++) {
    const sequence = writer.assignSequence('p0');
    writer.stage('p0', sequence, JSON.stringify({ sequence, pad: 'x'.repeat(40) }), null);
    if (i % 10 === 9) await writer.commit();
  }
  await writer.commit();
  await writer.close();
  return { layout, head: (await readHead(layout.headFile))!.streams.p0 };
}

const readAll = (layout: LakeLayout, head: StreamHead, after = 0) => new StreamCursor(layout.streamDir('p0'), after).next(1_000_000, head);

describe('the stream cursor refuses damage and says where it is', () => {
  it('a missing segment between two others is a gap, named with the segment it ends in', async () => {
    const { layout, head } = await logOf(60, 600);
    const segments = fs.readdirSync(layout.streamDir('p0')).sort();
    expect(segments.length).toBeGreaterThan(3);
    fs.rmSync(`${layout.streamDir('p0')}/${segments[1]}`);
    const error = await rejection(readAll(layout, head));
    expect(error).toBeInstanceOf(LogDamageError);
    expect(error.message).toMatch(new RegExp(`stream p0 is damaged at byte \\d+ of .*${segments[0]}: the segment ends after sequence \\d+, and the next segment begins at sequence ${Number(segments[2].slice(0, 20))}`));
  });

  it('records added to a segment shift the sequences after them: the first misplaced one is named', async () => {
    const { layout, head } = await logOf(30);
    const file = segmentPath(layout.streamDir('p0'), 1);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const at = Buffer.byteLength(lines.slice(0, 12).map((l) => `${l}\n`).join(''));
    lines.splice(12, 0, lines[11]);
    fs.writeFileSync(file, lines.join('\n'));
    const error = await rejection(readAll(layout, head));
    expect(error.message).toMatch(new RegExp(`damaged at byte ${at} of .*: the record in the place of sequence 13 holds 12`));
  });

  it('a line that keeps its braces but is not JSON is named by stream, segment and byte where it is parsed', async () => {
    const { layout, head } = await logOf(30);
    const file = segmentPath(layout.streamDir('p0'), 1);
    const text = fs.readFileSync(file, 'utf8');
    const at = text.indexOf('{"sequence":7,');
    fs.writeFileSync(file, text.slice(0, at + 1) + '!' + text.slice(at + 2)); // still one {...} line, of the same length
    const cursor = new StreamCursor(layout.streamDir('p0'), 0);
    const lines = await cursor.next(100, head); // the cursor parses only each chunk's last record
    expect(lines.length).toBe(30);
    let error: Error | undefined;
    try {
      parseLogLine('p0', cursor.spans, lines, 6);
    } catch (e) {
      error = e as Error;
    }
    expect(error).toBeInstanceOf(LogDamageError);
    expect(error!.message).toMatch(new RegExp(`stream p0 is damaged at byte ${at} of ${file}: record 7 is not valid JSON`));
  });
});

describe('the stream cursor finds its start from the nearer end of the segment', () => {
  const sequencesOf = (lines: string[]) => lines.map((l) => (JSON.parse(l) as { sequence: number }).sequence);

  it('from any position, in rolled segments and the head one, it returns the records after it', async () => {
    const { layout, head } = await logOf(90, 1200);
    expect(fs.readdirSync(layout.streamDir('p0')).length).toBeGreaterThan(3);
    for (let after = 0; after < 90; after++) {
      const lines = await new StreamCursor(layout.streamDir('p0'), after).next(7, head);
      expect(sequencesOf(lines)).toEqual(Array.from({ length: Math.min(7, 90 - after) }, (_, i) => after + 1 + i));
    }
  });

  it('resuming near the head does not read the segment from its start', async () => {
    const { layout, head } = await logOf(200);
    const file = segmentPath(layout.streamDir('p0'), 1);
    const text = fs.readFileSync(file);
    // Zero the first half: a scan from the start would find no line ends there and refuse.
    text.fill(0, 0, text.length >> 1);
    fs.writeFileSync(file, text);
    expect(sequencesOf(await new StreamCursor(layout.streamDir('p0'), 190).next(100, head))).toEqual([191, 192, 193, 194, 195, 196, 197, 198, 199, 200]);
    await expect(new StreamCursor(layout.streamDir('p0'), 10).next(100, head)).rejects.toThrow(LogDamageError);
  });

  it('resuming a few records before the head reads a few KB of a large segment, not a whole read chunk', async () => {
    const layout = new LakeLayout(tempDir());
    const writer = await LogWriter.open(layout, { partitions: 1 });
    for (let i = 0; i < 10_000; i++) {
      const sequence = writer.assignSequence('p0');
      writer.stage('p0', sequence, JSON.stringify({ sequence, pad: 'z'.repeat(450) }), null);
    }
    await writer.commit();
    await writer.close();
    const head = (await readHead(layout.headFile))!.streams.p0;
    expect(head.offset).toBeGreaterThan(4 * 1024 * 1024);
    const reads = vi.spyOn(LocalStorage.prototype, 'read');
    try {
      expect(sequencesOf(await new StreamCursor(layout.streamDir('p0'), 9990).next(100, head))).toEqual(Array.from({ length: 10 }, (_, i) => 9991 + i));
      const bytes = reads.mock.calls.reduce((sum, [, range]) => sum + (range?.length ?? 0), 0);
      // Ten records are ~5 KB; a 4 MiB chunk read (and its fresh buffer's page faults) per stream was ~1/5 of a 7-job incremental run's faults.
      expect(bytes).toBeLessThan(256 * 1024);
    } finally {
      reads.mockRestore();
    }
  });

  it('records longer than the first read back are found from the end too', async () => {
    const layout = new LakeLayout(tempDir());
    const writer = await LogWriter.open(layout, { partitions: 1 });
    for (let i = 0; i < 40; i++) {
      const sequence = writer.assignSequence('p0');
      writer.stage('p0', sequence, JSON.stringify({ sequence, pad: 'w'.repeat(100_000 + i) }), null);
    }
    await writer.commit();
    await writer.close();
    const head = (await readHead(layout.headFile))!.streams.p0;
    for (const after of [39, 37, 30, 25]) {
      expect(sequencesOf(await new StreamCursor(layout.streamDir('p0'), after).next(100, head))).toEqual(Array.from({ length: 40 - after }, (_, i) => after + 1 + i));
    }
  });

  it('a record added after the start is caught when the lines are read', async () => {
    const { layout, head } = await logOf(100);
    const file = segmentPath(layout.streamDir('p0'), 1);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines.splice(95, 0, lines[94]);
    fs.writeFileSync(file, lines.join('\n'));
    const error = await rejection(new StreamCursor(layout.streamDir('p0'), 90).next(100, { ...head, offset: fs.statSync(file).size }));
    expect(error).toBeInstanceOf(LogDamageError);
    expect(error.message).toMatch(/the record in the place of sequence 91, counted back from the committed end, holds 92/);
  });

  it('a segment with fewer records than its committed end says is refused', async () => {
    const { layout, head } = await logOf(100);
    const file = segmentPath(layout.streamDir('p0'), 1);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    fs.writeFileSync(file, lines.slice(70).join('\n')); // 30 records left, 40 expected after sequence 60
    const error = await rejection(new StreamCursor(layout.streamDir('p0'), 60).next(100, { ...head, offset: fs.statSync(file).size }));
    expect(error).toBeInstanceOf(LogDamageError);
    expect(error.message).toMatch(/the segment holds 30 records before its committed end, 40 are expected after sequence 60/);
  });
});

describe('the stream cursor reads a segment larger than its read chunk in batches', () => {
  it('returns every record once, in order, whatever the batch sizes (bytes read ahead are served to the next batch)', async () => {
    const layout = new LakeLayout(tempDir());
    const writer = await LogWriter.open(layout, { partitions: 1 });
    for (let i = 0; i < 10_000; i++) {
      const sequence = writer.assignSequence('p0');
      writer.stage('p0', sequence, JSON.stringify({ sequence, pad: 'y'.repeat(400 + (i % 97)) }), null);
      if (i % 2000 === 1999) await writer.commit();
    }
    await writer.commit();
    await writer.close();
    const head = (await readHead(layout.headFile))!.streams.p0;
    expect(head.offset).toBeGreaterThan(4 * 1024 * 1024);
    const cursor = new StreamCursor(layout.streamDir('p0'), 0);
    const seen: number[] = [];
    for (let batch = 1; ; batch = 1 + ((batch * 7 + 3) % 3000)) {
      const lines = await cursor.next(batch, head);
      if (lines.length === 0) break;
      for (const line of lines) seen.push((JSON.parse(line) as { sequence: number }).sequence);
    }
    expect(seen).toEqual(Array.from({ length: 10_000 }, (_, i) => i + 1));
  });
});
