import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SegmentReader } from '../../lake/log/segmentReader.js';
import { tempDir } from '../support/cli.js';

function fileOf(bytes: number): { file: string; data: Buffer } {
  const file = path.join(tempDir(), 'segment.ndjson');
  const data = Buffer.from(Array.from({ length: bytes }, (_, i) => 32 + ((i * 7919) % 90)));
  fs.writeFileSync(file, data);
  return { file, data };
}

describe('a segment reader', () => {
  it('returns the file bytes asked for, moving forward by any step, its buffer growing to the largest read', async () => {
    const { file, data } = fileOf(50_000);
    const reader = new SegmentReader(8192);
    let offset = 0;
    for (let step = 1; offset < data.length; step = (step * 31 + 7) % 5000) {
      const length = Math.min(8192, 1 + ((step * 13) % 8192));
      const bytes = await reader.read(file, offset, length);
      expect(bytes.equals(data.subarray(offset, Math.min(data.length, offset + length)))).toBe(true);
      offset += Math.max(1, step % (bytes.length + 1));
    }
  });

  it('serves the bytes an earlier read fetched past what was taken, without reading them again', async () => {
    const { file, data } = fileOf(1000);
    const reader = new SegmentReader(4096);
    expect((await reader.read(file, 0, 300)).equals(data.subarray(0, 300))).toBe(true);
    // Committed bytes never change: the reader may keep them. Changed behind its back, the kept ones show it did.
    const changed = Buffer.from(data);
    changed.fill('Z', 0, 1000);
    fs.writeFileSync(file, changed);
    const next = await reader.read(file, 200, 300);
    expect(next.subarray(0, 100).equals(data.subarray(200, 300))).toBe(true);
    expect(next.subarray(100).toString()).toBe('Z'.repeat(200));
    // A range it holds whole is not read at all.
    expect((await reader.read(file, 250, 100)).equals(Buffer.concat([data.subarray(250, 300), Buffer.from('Z'.repeat(50))]))).toBe(true);
  });

  it('reads another segment afresh, and returns fewer bytes where a file ends', async () => {
    const first = fileOf(500);
    const second = fileOf(400);
    fs.writeFileSync(second.file, Buffer.from(second.data).fill('Q', 0, 400));
    const reader = new SegmentReader(4096);
    expect((await reader.read(first.file, 0, 400)).equals(first.data.subarray(0, 400))).toBe(true);
    expect((await reader.read(second.file, 100, 400)).toString()).toBe('Q'.repeat(300));
    expect((await reader.read(first.file, 450, 400)).equals(first.data.subarray(450))).toBe(true);
  });

  it('refuses a read larger than its buffer may grow', async () => {
    const { file } = fileOf(100);
    await expect(new SegmentReader(64).read(file, 0, 65)).rejects.toThrow(/more than 64/);
  });
});
