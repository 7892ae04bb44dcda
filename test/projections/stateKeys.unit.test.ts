import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDomains } from '../../domains/loadDomains.js';
import type { Column, StateProjection } from '../../projections/projection.js';
import { canonicalKeyOf, stateKeyProblem } from '../../projections/stateKeys.js';
import { tempDir } from '../support/cli.js';

/** A state projection keyed by `key` of `type`, whose keyOf gives the record as it is. */
const keyedBy = (type: Column['type'], key = 'k'): StateProjection<string> => ({
  kind: 'state',
  name: `by_${type.toLowerCase()}`,
  version: 1,
  description: '',
  source: 'events',
  key,
  orderBy: 'k',
  columns: [{ name: 'k', type }],
  keyOf: (record) => record,
  evolve: () => ({}),
});

describe("a state projection's key as text", () => {
  it("keyOf's text is brought to the one its column's type has, or refused naming the projection", () => {
    expect(['7', '007', '+7', '-0', '9007199254740993'].map(canonicalKeyOf(keyedBy('BIGINT')))).toEqual(['7', '7', '7', '0', '9007199254740993']);
    expect(canonicalKeyOf(keyedBy('INTEGER'))('-12')).toBe('-12');
    expect(canonicalKeyOf(keyedBy('DATE'))('2024-02-29')).toBe('2024-02-29');
    expect(canonicalKeyOf(keyedBy('VARCHAR'))(' 007 ')).toBe(' 007 ');
    expect(() => canonicalKeyOf(keyedBy('BIGINT'))('7.0')).toThrow(/projection by_bigint: keyOf gave "7.0", which its BIGINT key column "k" cannot hold/);
    expect(() => canonicalKeyOf(keyedBy('DATE'))('2023-02-29')).toThrow(/by_date: keyOf gave "2023-02-29"/);
    expect(() => canonicalKeyOf(keyedBy('DATE'))('2024-02-01T00:00:00Z')).toThrow(/DATE key column/);
  });

  it('a key column with several texts per value, or no such column, is refused', () => {
    expect(stateKeyProblem(keyedBy('VARCHAR'))).toBeNull();
    expect(stateKeyProblem(keyedBy('DATE'))).toBeNull();
    expect(stateKeyProblem(keyedBy('DOUBLE'))).toMatch(/by_double: its key column "k" is DOUBLE; a state projection's key column must be VARCHAR, BIGINT, INTEGER, DATE/);
    expect(stateKeyProblem(keyedBy('TIMESTAMPTZ'))).toMatch(/is TIMESTAMPTZ/);
    expect(stateKeyProblem(keyedBy('VARCHAR', 'id'))).toMatch(/its key "id" is not one of its columns \(k\)/);
  });

  it('a configured domain with such a projection does not load, and the error names the domain and the projection', async () => {
    const dir = tempDir();
    const module = path.join(dir, 'timeKeyed.mjs');
    const projection = { ...keyedBy('TIMESTAMPTZ'), keyOf: String(keyedBy('TIMESTAMPTZ').keyOf), evolve: undefined };
    fs.writeFileSync(module, `export default { name: 'time_keyed', aggregates: [], commands: [], projections: [${JSON.stringify(projection)}] };`);
    await expect(loadDomains(['superchargers', './timeKeyed.mjs'], dir)).rejects.toThrow(/domain "\.\/timeKeyed\.mjs": projection by_timestamptz: its key column "k" is TIMESTAMPTZ/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
