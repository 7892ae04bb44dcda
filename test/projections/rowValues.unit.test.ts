import { describe, expect, it } from 'vitest';
import type { Column } from '../../projections/projection.js';
import { changedRowProblem, rowProblem } from '../../projections/rowValues.js';

const columns: Column[] = [
  { name: 'id', type: 'VARCHAR' },
  { name: 'at', type: 'TIMESTAMPTZ' },
  { name: 'n', type: 'BIGINT' },
];

describe('a row evolved from a storable row (changedRowProblem)', () => {
  const prior = { id: 'a', at: '2024-01-01T10:00:00Z', n: 1 };

  it('names a changed value the table cannot store, as rowProblem does', () => {
    const leap = { ...prior, at: '2024-06-30T23:59:60Z' };
    expect(changedRowProblem(leap, prior, columns)).toBe(rowProblem(leap, columns));
    expect(changedRowProblem(leap, prior, columns)).toMatch(/column at: .*leap seconds/);
    expect(changedRowProblem({ ...prior, n: 2 ** 60 }, prior, columns)).toMatch(/column n: /);
    expect(changedRowProblem({ ...prior, id: 'x\uD800' }, prior, columns)).toMatch(/column id: .*surrogate/);
  });

  it('accepts changed values that are storable and values equal to the prior row', () => {
    expect(changedRowProblem({ ...prior, n: 2, at: '2024-01-02T10:00:00.5+02:00' }, prior, columns)).toBeNull();
    expect(changedRowProblem({ ...prior }, prior, columns)).toBeNull();
  });

  it('checks every value of a new key, and of a row returned as it was given', () => {
    const bad = { id: 'a', at: '2023-02-30T00:00:00Z', n: 1 };
    expect(changedRowProblem(bad, undefined, columns)).toMatch(/column at: /);
    expect(changedRowProblem(bad, bad, columns)).toMatch(/column at: /);
  });
});
