import { describe, expect, it } from 'vitest';
import { ServingDelta, type RowStep } from '../../views/servingDelta.js';

const key = (serial: string) => JSON.stringify({ supercharger_serial: serial });
const step = (fromVersion: number, toVersion: number, serial: string, part?: number): RowStep => ({
  readModel: 'superchargers',
  fromVersion,
  toVersion,
  ...(part === undefined ? {} : { part }),
  replaced: [],
  added: [{ row: JSON.stringify({ supercharger_serial: serial }), key: key(serial), mutable: true }],
});

describe('a serving delta following live commits made of several folded batches (parts)', () => {
  it('takes the parts of a commit in order, once each', () => {
    const delta = new ServingDelta(new Map([['superchargers', 4]]));
    expect(delta.apply(step(4, 5, 'A'))).toBe('applied');
    expect(delta.apply(step(5, 6, 'B', 0))).toBe('applied');
    expect(delta.apply(step(5, 6, 'C', 1))).toBe('applied');
    expect(delta.apply(step(5, 6, 'C', 1))).toBe('held');
    expect(delta.apply(step(5, 6, 'E', 3))).toBe('gap');
    expect(delta.apply(step(6, 7, 'D'))).toBe('applied');
    expect([...delta.model('superchargers')!.current.keys()]).toEqual([key('A'), key('B'), key('C'), key('D')]);
  });

  it('holds every part of a commit a base read from the table already has (after a round trip to a query process)', () => {
    const delta = ServingDelta.from(new ServingDelta(new Map([['superchargers', 6]])).state());
    expect(delta.apply(step(5, 6, 'B', 0))).toBe('held');
    expect(delta.apply(step(5, 6, 'C', 1))).toBe('held');
    expect(delta.apply(step(6, 7, 'D', 1))).toBe('gap');
    expect(delta.apply(step(6, 7, 'D', 0))).toBe('applied');
    expect(ServingDelta.from(delta.state()).apply(step(6, 7, 'E', 1))).toBe('applied');
  });
});
