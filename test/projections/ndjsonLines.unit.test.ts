import { describe, expect, it } from 'vitest';
import { NdjsonLines, ndjsonOf } from '../../projections/batchTables.js';

/** Rows whose UTF-8 is wider than their UTF-16 length: the buffer must grow past its guess. */
const rows = Array.from({ length: 500 }, (_, i) => ({
  n: i,
  text: `${'é'.repeat(i % 7)}${'€'.repeat(i % 5)}${'😀'.repeat(i % 3)} row ${i}`,
  lone: i % 11 === 0 ? `bad \uD800 surrogate ${i}` : null,
  nested: { ids: [`a${i}`, `b${i}`] },
}));

const linesOf = (bytes: Buffer) => bytes.toString('utf8').split('\n');

describe('rows as NDJSON bytes', () => {
  it('is one JSON.stringify line per row, each ended by a newline, whatever the first guess of its size', () => {
    for (const guess of [0, 10, 100_000]) {
      const lines = new NdjsonLines(guess);
      for (const row of rows) lines.add(row);
      const text = linesOf(lines.bytes());
      expect(text.pop()).toBe('');
      expect(text).toEqual(rows.map((row) => JSON.stringify(row)));
      expect(text.map((line) => JSON.parse(line))).toEqual(rows);
    }
  });

  it('is empty for no rows, as ndjsonOf', () => {
    expect(new NdjsonLines(0).bytes().length).toBe(0);
    expect(ndjsonOf([]).length).toBe(0);
    expect(ndjsonOf(rows).equals(Buffer.from(rows.map((row) => `${JSON.stringify(row)}\n`).join('')))).toBe(true);
  });
});
