import { describe, expect, it } from 'vitest';
import { BatchRecords, linesOfEventTypes } from '../../projections/jobSource.js';

const line = (eventType: string, n: number) => JSON.stringify({ eventId: `e${n}`, eventType, aggregateId: `a${n}`, data: { n } });
const lines = [line('A', 1), line('B', 2), line('A', 3), JSON.stringify({ commandId: 'c1', status: 'completed' })];

describe('a batch shared by the jobs of a pass', () => {
  it('selects the same lines as the per-job filter, in batch order', () => {
    const records = new BatchRecords(lines);
    for (const types of [['A'], ['B'], ['A', 'B'], ['C'], undefined]) {
      expect(records.select(types).lines).toEqual(linesOfEventTypes(lines, types));
    }
  });

  it('parses each record once, however many jobs read it', () => {
    const records = new BatchRecords(lines);
    const first = records.select(['A']).records();
    const second = records.select(['A', 'B']).records();
    expect(first.map((r) => (r as { eventId: string }).eventId)).toEqual(['e1', 'e3']);
    expect(second[0]).toBe(first[0]);
    expect(second[2]).toBe(first[1]);
  });

  it('a line that is not JSON fails only the jobs that read it', () => {
    const records = new BatchRecords([line('A', 1), '{"eventId":"x","eventType":"B", torn']);
    expect(records.select(['A']).records()).toHaveLength(1);
    expect(() => records.select(['B']).records()).toThrow(SyntaxError);
  });
});

describe('a batch read by one job alone', () => {
  it('hands out the same records, one at a time with `each`, in selection order', () => {
    const kept = new BatchRecords(lines).select(['A']).records();
    const alone = new BatchRecords(lines);
    alone.readAlone();
    const seen: unknown[] = [];
    alone.select(['A']).each!((record, i) => seen.push([i, record]));
    expect(seen).toEqual(kept.map((record, i) => [i, record]));
  });

  it('keeps no parsed record: each is parsed when asked for and left to the collector', () => {
    const records = new BatchRecords(lines);
    records.readAlone();
    const [first] = records.select(['A']).records();
    const [again] = records.select(['A']).records();
    expect(again).toEqual(first);
    expect(again).not.toBe(first);
  });
});
