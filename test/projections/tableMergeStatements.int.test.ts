/**
 * The statements a copy-on-write merge runs (projections/tableMerge.ts): a key table (every row
 * mutable: a state projection, an upsert) never has final rows, so its merge does not try to
 * write them (a +1% incremental run paid a statement per key table for the empty write).
 */
import fs from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Snapshot } from '../../lake/delta/snapshot.js';
import { Duck } from '../../lake/duckdb.js';
import { fileStats } from '../../projections/dataFiles.js';
import type { Projection } from '../../projections/projection.js';
import { TableMerge } from '../../projections/tableMerge.js';
import { tableShape } from '../../projections/tableShape.js';
import { tempDir } from '../support/cli.js';

const columns = [
  { name: 'id', type: 'VARCHAR' },
  { name: 'n', type: 'BIGINT' },
] as const;
const upsert = { kind: 'sql', name: 'counts', columns, merge: { kind: 'upsert', key: ['id'] } } as unknown as Projection;

describe('a key table merge', () => {
  const dir = tempDir('merge-statements-');
  let duck: Duck | undefined;
  afterEach(() => {
    duck?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes its rows by key and runs no write of final rows (it has none)', async () => {
    duck = await Duck.open();
    await duck.run(`CREATE TEMP TABLE out AS SELECT * FROM (VALUES ('b', 2::BIGINT), ('a', 1::BIGINT), ('c', 3::BIGINT)) AS v(id, n)`);
    const statements: string[] = [];
    for (const method of ['run', 'rows'] as const) {
      const original = duck[method].bind(duck);
      vi.spyOn(duck, method).mockImplementation(((sql: string) => (statements.push(sql.replace(/\s+/g, ' ')), original(sql))) as never);
    }
    const shape = tableShape(upsert);
    expect(shape.mutable).toBe('all');
    const empty = { version: 0, files: new Map() } as unknown as Snapshot;
    const { actions } = await new TableMerge(duck, dir, shape, { mutableRows: 100, appendRows: 100 }).merge(empty);
    const adds = actions.flatMap((a) => ('add' in a ? [a.add] : []));
    expect(adds.map((add) => fileStats(add))).toMatchObject([{ numRecords: 3, minValues: { id: 'a' }, maxValues: { id: 'c' } }]);
    expect(statements.filter((sql) => sql.includes('NOT __mutable'))).toEqual([]);
  });
});
