import { describe, expect, it } from 'vitest';
import { rowlessBaseFits, ServingDelta, StepLog, type RowStep } from '../../views/servingDelta.js';

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

describe('a merged base sent to a query process without rows (the process lays the steps it holds over it)', () => {
  const history = (fromVersion: number, toVersion: number, serial: string): RowStep => ({ ...step(fromVersion, toVersion, serial), readModel: 'status_history' });

  it('gives the delta the service shows over that base: the steps after its versions, parts included', () => {
    const given = new Map([['superchargers', 4], ['status_history', 2]]);
    const told = [step(4, 5, 'A'), history(2, 3, 'X'), step(5, 6, 'B', 0), step(5, 6, 'C', 1), history(3, 4, 'Y'), step(6, 7, 'D')];
    const log = new StepLog();
    for (const s of told) log.add(s);
    // The merge wrote superchargers 5 and status_history 3; the rest were committed meanwhile or not yet.
    const versions = new Map([['superchargers', 5], ['status_history', 3]]);
    const service = new ServingDelta(versions);
    for (const s of [step(5, 6, 'B', 0), step(5, 6, 'C', 1), history(3, 4, 'Y'), step(6, 7, 'D')]) expect(service.apply(s)).toBe('applied');
    expect(log.over(versions).state()).toEqual(service.state());
    // Only the steps the base did not hold are kept for the next base.
    const next = new Map([['superchargers', 7], ['status_history', 3]]);
    const expected = new ServingDelta(next);
    expected.apply(history(3, 4, 'Y'));
    expect(log.over(next).state()).toEqual(expected.state());
  });

  it('refuses a base past which it lacks a step (never laid over with a hole)', () => {
    const log = new StepLog();
    log.add(step(6, 7, 'D'));
    expect(() => log.over(new Map([['superchargers', 5]]))).toThrow(/does not follow/);
  });

  it('is sent only to a process whose last whole delta is at or below the base for every read model', () => {
    expect(rowlessBaseFits(new Map([['superchargers', 4]]), new Map([['superchargers', 5], ['status_history', 3]]))).toBe(true);
    expect(rowlessBaseFits(new Map([['superchargers', 5]]), new Map([['superchargers', 5]]))).toBe(true);
    expect(rowlessBaseFits(new Map([['superchargers', 6]]), new Map([['superchargers', 5]]))).toBe(false);
    expect(rowlessBaseFits(new Map([['status_history', 1]]), new Map([['superchargers', 5]]))).toBe(false);
  });
});
