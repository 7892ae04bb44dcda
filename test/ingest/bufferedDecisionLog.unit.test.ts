import { describe, expect, it } from 'vitest';
import { NdjsonBytes } from '../../ingest/bufferedDecisionLog.js';

describe('NDJSON bytes of a decider thread', () => {
  it('cuts back into the lines added, in order, across encode batches and with multi-byte text', () => {
    const bytes = new NdjsonBytes(16); // smaller than the lines: it grows
    const lines = Array.from({ length: 2500 }, (_, i) => JSON.stringify({ i, text: `é ✓ 😀 ${'y'.repeat(i % 70)}` }));
    for (const line of lines) bytes.add(line);
    const all = Buffer.from(bytes.bytes());
    const ends = bytes.ends();
    expect(bytes.count).toBe(lines.length);
    expect(ends.length).toBe(lines.length);
    const cut = [...ends].map((end, i) => all.subarray(i === 0 ? 0 : ends[i - 1], end).toString('utf8'));
    expect(cut).toEqual(lines.map((line) => `${line}\n`));
    expect(all.length).toBe(ends[ends.length - 1]);
  });

  it('is empty with no lines', () => {
    const bytes = new NdjsonBytes();
    expect(bytes.bytes().length).toBe(0);
    expect([...bytes.ends()]).toEqual([]);
  });
});
