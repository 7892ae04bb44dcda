/**
 * A rebuild's staging, fed rows made in JS straight from their JSON: a batch DuckDB refuses
 * (a row its column cannot hold) leaves nothing staged and takes no place in the log order, so
 * the rows job stages it again without the poison and every other row is kept, in order.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Duck, sqlPathList } from '../../lake/duckdb.js';
import type { Column } from '../../projections/projection.js';
import { RebuildStaging } from '../../projections/rebuildStaging.js';
import { tableShape } from '../../projections/tableShape.js';
import { tempDir } from '../support/cli.js';

const columns: Column[] = [
  { name: 'id', type: 'VARCHAR' },
  { name: 'n', type: 'INTEGER' },
];
const facts = tableShape({ kind: 'rows', name: 'facts', version: 1, columns, rows: () => [] } as never);
const upserts = tableShape({ kind: 'state', name: 'state', version: 1, columns, key: 'id', orderBy: 'n', keyOf: () => null, evolve: () => ({}) } as never);

describe('staging rows made in JS', () => {
  let dir: string;
  let duck: Duck;
  beforeEach(async () => {
    dir = tempDir();
    duck = await Duck.open();
  });
  afterEach(() => {
    duck.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const written = async (staging: RebuildStaging, shapeDir: string) => {
    const adds = await staging.finish(shapeDir);
    return duck.rows(`SELECT id, n FROM read_parquet(${sqlPathList(adds.map((a) => path.join(shapeDir, a.path)))})`);
  };

  for (const [label, shape] of [['facts', facts], ['one row per key', upserts]] as const) {
    it(`${label}: a first batch DuckDB refuses stages nothing, and the same batch without the bad row stages`, async () => {
      const staging = new RebuildStaging(duck, shape);
      await expect(staging.stageRows([{ id: 'a', n: 1 }, { id: 'bad', n: 2 ** 40 }])).rejects.toThrow();
      await staging.stageRows([{ id: 'a', n: 1 }]);
      await expect(staging.stageRows([{ id: 'b', n: 2 }, { id: 'bad', n: 2 ** 40 }])).rejects.toThrow();
      await staging.stageRows([{ id: 'b', n: 2 }]);
      await staging.stageRows([]);
      await staging.stageRows([{ id: 'c', n: 3 }]);
      expect(await written(staging, path.join(dir, label))).toEqual([{ id: 'a', n: 1 }, { id: 'b', n: 2 }, { id: 'c', n: 3 }]);
    });
  }
});
