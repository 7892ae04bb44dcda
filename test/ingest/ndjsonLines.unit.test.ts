import fc from 'fast-check';
import readline from 'node:readline';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { lineBatches } from '../../ingest/ndjsonLines.js';

async function ours(chunks: Buffer[]): Promise<{ lines: string[]; bytes: number }> {
  const lines: string[] = [];
  let bytes = 0;
  for await (const batch of lineBatches(Readable.from(chunks))) {
    lines.push(...batch.lines);
    bytes += batch.bytes;
  }
  return { lines, bytes };
}

async function readlines(chunks: Buffer[]): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of readline.createInterface({ input: Readable.from(chunks), crlfDelay: Infinity })) lines.push(line);
  return lines;
}

/** Splits bytes into chunks at the given cut points (so a line, a "\r\n" or a UTF-8 character may straddle two). */
function cut(bytes: Buffer, points: number[]): Buffer[] {
  const sorted = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const p of [...sorted, bytes.length]) {
    if (p > start) chunks.push(bytes.subarray(start, p));
    start = Math.max(start, p);
  }
  return chunks;
}

describe('NDJSON line splitting', () => {
  it('yields the lines readline yields, however the input is cut into chunks', async () => {
    const piece = fc.oneof(fc.string({ unit: 'grapheme' }), fc.constantFrom('\n', '\r\n', '\r', '{"a":"é€😀"}', '', '\n\n'));
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 8 }), async (pieces, points) => {
        const bytes = Buffer.from(pieces.join(''));
        const chunks = cut(bytes, points);
        const result = await ours(chunks);
        expect(result.lines).toEqual(await readlines(chunks));
        expect(result.bytes).toBe(bytes.length);
      }),
    );
  });

  it('keeps a long line that spans many chunks whole', async () => {
    const long = 'x'.repeat(100_000);
    const bytes = Buffer.from(`a\n${long}\nb`);
    const chunks = cut(bytes, Array.from({ length: 50 }, (_, i) => i * 2003));
    expect((await ours(chunks)).lines).toEqual(['a', long, 'b']);
  });
});
