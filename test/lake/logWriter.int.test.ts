import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LakeLayout } from '../../lake/layout.js';
import { readCommittedHead } from '../../lake/log/committedHead.js';
import { readHead } from '../../lake/log/logHead.js';
import { LogWriter } from '../../lake/log/logWriter.js';
import { listSegments, segmentPath } from '../../lake/log/segments.js';
import { StreamCursor } from '../../lake/log/streamCursor.js';
import { tempDir } from '../support/cli.js';

async function writeRecords(writer: LogWriter, stream: string, count: number, tag = 'r'): Promise<void> {
  for (let i = 0; i < count; i++) {
    const sequence = writer.assignSequence(stream);
    writer.stage(stream, sequence, JSON.stringify({ sequence, tag }), null);
  }
  await writer.commit();
}

async function readAll(layout: LakeLayout, stream: string): Promise<{ sequence: number; tag: string }[]> {
  const head = (await readHead(layout.headFile))!;
  const lines = await new StreamCursor(layout.streamDir(stream), 0).next(1_000_000, head.streams[stream]);
  return lines.map((l) => JSON.parse(l));
}

describe('lake log writer', () => {
  it('encodes lines staged in batches in order, multi-byte text included, and keeps their order next to records encoded elsewhere', async () => {
    const layout = new LakeLayout(tempDir());
    const writer = await LogWriter.open(layout, { partitions: 1 });
    // Enough lines to cross ENCODE_BATCH_CHARS several times, with 2-, 3- and 4-byte UTF-8.
    const tags = Array.from({ length: 3000 }, (_, i) => `r${i} é ✓ 😀 ${'x'.repeat(i % 50)}`);
    const stageLine = (tag: string) => {
      const sequence = writer.assignSequence('p0');
      writer.stage('p0', sequence, JSON.stringify({ sequence, tag }), null);
    };
    for (const tag of tags.slice(0, 1500)) stageLine(tag);
    // Then records a decider thread encoded: they must land after the pending lines.
    const first = writer.nextSequenceOf('p0');
    const encoded = Buffer.from(`${JSON.stringify({ sequence: first, tag: 'encoded-1' })}\n${JSON.stringify({ sequence: first + 1, tag: 'encoded-2' })}\n`);
    writer.stageEncoded('p0', first, 2, encoded, null);
    for (const tag of tags.slice(1500)) stageLine(tag);
    await writer.commit();
    await writer.close();
    const read = await readAll(layout, 'p0');
    expect(read.map((r) => r.tag)).toEqual([...tags.slice(0, 1500), 'encoded-1', 'encoded-2', ...tags.slice(1500)]);
    expect(read.map((r) => r.sequence)).toEqual(Array.from({ length: 3002 }, (_, i) => i + 1));
  });

  it('assigns gap-free sequences per stream across commits and reopenings', async () => {
    const layout = new LakeLayout(tempDir());
    let writer = await LogWriter.open(layout, { partitions: 2 });
    await writeRecords(writer, 'p0', 3);
    await writeRecords(writer, 'p1', 2);
    await writer.close();
    writer = await LogWriter.open(layout, { partitions: 8 }); // an existing lake keeps its partition count
    expect(writer.meta.partitions).toBe(2);
    await writeRecords(writer, 'p0', 2);
    await writer.close();
    expect((await readAll(layout, 'p0')).map((r) => r.sequence)).toEqual([1, 2, 3, 4, 5]);
    expect((await readAll(layout, 'p1')).map((r) => r.sequence)).toEqual([1, 2]);
  });

  it("writes a new log's empty head before its first record, so a reader during the first commit sees an empty log, not damage", async () => {
    const layout = new LakeLayout(tempDir());
    const writer = await LogWriter.open(layout, { partitions: 1 });
    // The first commit under way: its records are in the segment, its head not written yet.
    fs.mkdirSync(layout.streamDir('p0'), { recursive: true });
    fs.appendFileSync(segmentPath(layout.streamDir('p0'), 1), '{"sequence":1,"tag":"in flight"}\n');
    const head = await readCommittedHead(layout);
    expect(head?.streams.p0).toMatchObject({ sequence: 0, offset: 0 });
    await writer.close();
  });

  it('trims a torn tail left by a crash mid-write, and keeps every committed record', async () => {
    const layout = new LakeLayout(tempDir());
    let writer = await LogWriter.open(layout, { partitions: 1 });
    await writeRecords(writer, 'p0', 4);
    await writer.close();
    const file = segmentPath(layout.streamDir('p0'), 1);
    const committed = fs.readFileSync(file);
    fs.appendFileSync(file, '{"sequence":5,"tag":"torn'); // bytes written, head never updated
    expect((await readAll(layout, 'p0')).length).toBe(4); // readers never look past the head
    writer = await LogWriter.open(layout);
    expect(fs.readFileSync(file)).toEqual(committed);
    await writeRecords(writer, 'p0', 1, 'after');
    await writer.close();
    expect((await readAll(layout, 'p0')).map((r) => [r.sequence, r.tag])).toEqual([[1, 'r'], [2, 'r'], [3, 'r'], [4, 'r'], [5, 'after']]);
  });

  it('removes a segment begun after the last commit', async () => {
    const layout = new LakeLayout(tempDir());
    let writer = await LogWriter.open(layout, { partitions: 1, segmentBytes: 64 });
    await writeRecords(writer, 'p0', 2);
    await writeRecords(writer, 'p0', 2); // rolls into a second segment
    await writer.close();
    fs.writeFileSync(segmentPath(layout.streamDir('p0'), 5), '{"sequence":5}\n'); // never committed
    writer = await LogWriter.open(layout, { segmentBytes: 64 });
    await writer.close();
    expect(await listSegments(layout.streamDir('p0'))).toEqual([1, 3]);
    expect((await readAll(layout, 'p0')).map((r) => r.sequence)).toEqual([1, 2, 3, 4]);
  });

  it('falls back to the previous head when the newest slot is torn', async () => {
    const layout = new LakeLayout(tempDir());
    const writer = await LogWriter.open(layout, { partitions: 1 });
    await writeRecords(writer, 'p0', 1);
    await writeRecords(writer, 'p0', 1);
    await writer.close();
    const head = (await readHead(layout.headFile))!;
    expect(head.commit).toBe(2);
    const bytes = fs.readFileSync(layout.headFile);
    bytes[(head.commit % 2) * 64 * 1024 + 20] ^= 0xff; // damage the newest slot's JSON
    fs.writeFileSync(layout.headFile, bytes);
    const previous = (await readHead(layout.headFile))!;
    expect(previous.commit).toBe(1);
    expect(previous.streams.p0.sequence).toBe(1);
  });

  it('a damaged head slot with records beyond the other: the writer refuses and trims nothing, unless it saw that very head write fail', async () => {
    const layout = new LakeLayout(tempDir());
    const writer = await LogWriter.open(layout, { partitions: 1 });
    await writeRecords(writer, 'p0', 3);
    await writeRecords(writer, 'p0', 2);
    await writer.close();
    const segment = segmentPath(layout.streamDir('p0'), 1);
    const size = fs.statSync(segment).size;
    const bytes = fs.readFileSync(layout.headFile);
    bytes[(2 % 2) * 64 * 1024 + 20] ^= 0x01; // one bit of the newest slot (commit 2)
    fs.writeFileSync(layout.headFile, bytes);

    await expect(LogWriter.open(layout)).rejects.toThrow(/a slot of .*HEAD is damaged, and records lie beyond the other slot's commit 1 \(p0: \d+ bytes\).*eventlake log repair/);
    expect(fs.statSync(segment).size).toBe(size);
    // The process that saw commit 2's head write fail knows it was never acknowledged.
    const recovering = await LogWriter.open(layout, { unacknowledgedCommit: 2 });
    expect(recovering.head.streams.p0.sequence).toBe(3);
    expect(fs.statSync(segment).size).toBeLessThan(size);
    await writeRecords(recovering, 'p0', 1, 'after'); // commit 2 again, into the damaged slot
    await recovering.close();
    expect((await readAll(layout, 'p0')).map((r) => r.tag)).toEqual(['r', 'r', 'r', 'after']);
    const reopened = await LogWriter.open(layout); // both slots valid again
    await reopened.close();
  });

  it('a damaged older slot with nothing beyond the newest is harmless: the next commit replaces it', async () => {
    const layout = new LakeLayout(tempDir());
    const writer = await LogWriter.open(layout, { partitions: 1 });
    await writeRecords(writer, 'p0', 1);
    await writeRecords(writer, 'p0', 1);
    await writer.close();
    const bytes = fs.readFileSync(layout.headFile);
    bytes[(1 % 2) * 64 * 1024 + 20] ^= 0x01; // commit 1's slot
    fs.writeFileSync(layout.headFile, bytes);
    const again = await LogWriter.open(layout);
    await writeRecords(again, 'p0', 1);
    await again.close();
    expect((await readAll(layout, 'p0')).map((r) => r.sequence)).toEqual([1, 2, 3]);
  });

  it('refuses a second writer on the same lake, naming the holder', async () => {
    const layout = new LakeLayout(tempDir());
    const writer = await LogWriter.open(layout, { partitions: 1 });
    await expect(LogWriter.open(layout)).rejects.toThrow(/locked by pid \d+/);
    await writer.close();
    const again = await LogWriter.open(layout);
    await again.close();
  });

  it('reads in batches from a cursor without skipping or repeating records', async () => {
    const layout = new LakeLayout(tempDir());
    const writer = await LogWriter.open(layout, { partitions: 1, segmentBytes: 200 });
    for (let i = 0; i < 5; i++) await writeRecords(writer, 'p0', 7);
    await writer.close();
    const head = (await readHead(layout.headFile))!;
    const cursor = new StreamCursor(layout.streamDir('p0'), 10);
    const seen: number[] = [];
    for (let lines = await cursor.next(4, head.streams.p0); lines.length > 0; lines = await cursor.next(4, head.streams.p0)) {
      seen.push(...lines.map((l) => JSON.parse(l).sequence));
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i + 11));
    expect((await listSegments(layout.streamDir('p0'))).length).toBeGreaterThan(1);
    expect(path.basename(segmentPath(layout.streamDir('p0'), 1))).toBe('00000000000000000001.ndjson');
  });
});
