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

describe('a batch fed a record at a time to the jobs of a rebuild pass', () => {
  const taker = (eventTypes?: string[], failOn?: string) => {
    const seen: [unknown, string][] = [];
    return {
      seen,
      eventTypes,
      take(record: unknown, text: string) {
        if (failOn !== undefined && (record as { eventId?: string }).eventId === failOn) throw new Error(`no ${failOn}`);
        seen.push([record, text]);
      },
    };
  };

  it('hands each taker the records of its event types, in batch order, as `select` gives them', () => {
    const takers = [taker(['A']), taker(['B']), taker(undefined), taker(['C'])];
    const errors = new BatchRecords(lines).feed(takers);
    expect(errors).toEqual([undefined, undefined, undefined, undefined]);
    for (const t of takers) {
      const selected = new BatchRecords(lines).select(t.eventTypes);
      expect(t.seen.map(([, text]) => text)).toEqual(selected.lines);
      expect(t.seen.map(([record]) => record)).toEqual(selected.records());
    }
  });

  it('parses a line once for every taker that reads it, and keeps none of them', () => {
    const parsed: number[] = [];
    const records = new BatchRecords(lines, (i) => {
      parsed.push(i);
      return JSON.parse(lines[i]);
    });
    const [a, all] = [taker(['A']), taker(undefined)];
    records.feed([a, null, all]);
    expect(parsed).toEqual([0, 1, 2, 3]);
    expect(all.seen[0][0]).toBe(a.seen[0][0]);
    // Nothing was kept for a later `select`: it parses again.
    records.select(['A']).records();
    expect(parsed).toEqual([0, 1, 2, 3, 0, 2]);
  });

  it('a taker that throws is handed nothing more and gets its error; the others go on', () => {
    const [failing, other] = [taker(['A'], 'e1'), taker(['A'])];
    const errors = new BatchRecords(lines).feed([failing, other]);
    expect((errors[0] as Error).message).toBe('no e1');
    expect(errors[1]).toBeUndefined();
    expect(failing.seen).toEqual([]);
    expect(other.seen.map(([, text]) => text)).toEqual([lines[0], lines[2]]);
  });

  it('a line that is not JSON fails only the takers that read it', () => {
    const records = new BatchRecords([line('A', 1), '{"eventId":"x","eventType":"B", torn', line('A', 3)]);
    const [a, b] = [taker(['A']), taker(['B'])];
    const errors = records.feed([a, b]);
    expect(errors[0]).toBeUndefined();
    expect(errors[1]).toBeInstanceOf(SyntaxError);
    expect(a.seen).toHaveLength(2);
  });
});
