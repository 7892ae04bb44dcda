import { Command } from 'commander';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { sparkSchemaString } from '../lake/delta/actions.js';
import {
  commitVersion,
  DELETION_VECTOR_CONFIGURATION,
  DELETION_VECTOR_PROTOCOL,
  liveRowsSelect,
  loadSnapshot,
  markRowsDeleted,
} from '../lake/delta/deltaTable.js';
import { Duck, sqlString } from '../lake/duckdb.js';

/**
 * What a deletion vector costs to read: one data file of N rows, scanned in full through the
 * live-rows SELECT with a DV deleting D scattered rows, next to a plain read_parquet of the same
 * file in the same process. Prints medians (ms) as JSON.
 *
 *   npm run build && tsc -p bench/tsconfig.json && node dist/bench/deletionVectorRead.js --rows 1000000 --deleted 10000
 */

const program = new Command('deletion-vector-read')
  .option('--rows <n>', 'rows in the data file', Number, 1_000_000)
  .option('--deleted <n>', 'rows the DV deletes, spread evenly', Number, 10_000)
  .option('--reps <n>', 'timed runs of each query after a warm-up', Number, 9);

async function main(): Promise<void> {
  const { rows, deleted, reps } = program.parse().opts<{ rows: number; deleted: number; reps: number }>();
  const table = await mkdtemp(path.join(os.tmpdir(), 'eventlake-dv-bench-'));
  const duck = await Duck.open();
  try {
    const file = path.join(table, 'part-0.parquet');
    // Columns like a read model's: a key, a text, a number and a timestamp.
    await duck.run(
      `COPY (SELECT range AS id, 'key-' || (range % 100000) AS label, range * 0.5 AS amount, ` +
        `TIMESTAMPTZ '2026-01-01' + to_seconds(range) AS ts FROM range(${rows})) TO ${sqlString(file)} (FORMAT parquet)`,
    );
    const columns = [
      { name: 'id', type: 'BIGINT' },
      { name: 'label', type: 'VARCHAR' },
      { name: 'amount', type: 'DOUBLE' },
      { name: 'ts', type: 'TIMESTAMPTZ' },
    ];
    const add = { path: 'part-0.parquet', partitionValues: {}, size: (await stat(file)).size, modificationTime: Date.now(), dataChange: true, stats: JSON.stringify({ numRecords: rows }) };
    await commitVersion(table, 0, [
      { protocol: { ...DELETION_VECTOR_PROTOCOL } },
      {
        metaData: {
          id: randomUUID(),
          format: { provider: 'parquet', options: {} },
          schemaString: sparkSchemaString(columns),
          partitionColumns: [],
          configuration: { ...DELETION_VECTOR_CONFIGURATION },
        },
      },
      { add },
    ]);
    const step = Math.floor(rows / deleted);
    const doomed = Array.from({ length: deleted }, (_, i) => i * step + (i % step));
    let t = performance.now();
    const actions = await markRowsDeleted(table, await loadSnapshot(table), [{ file: add, rows: doomed }]);
    const writeDvMs = performance.now() - t;
    await commitVersion(table, 1, actions);

    const snapshot = await loadSnapshot(table);
    t = performance.now();
    const live = await liveRowsSelect(duck, table, snapshot);
    const loadDvMs = performance.now() - t;
    const scan = (from: string) => `SELECT count(*), sum(id), sum(length(label)), sum(amount), max(ts) FROM (${from})`;
    const [plainMs, dvMs] = await medians(duck, [scan(`SELECT * FROM read_parquet(${sqlString(file)})`), scan(live.sql)], reps);
    const liveCount = Number(await duck.scalar(`SELECT count(*) FROM (${live.sql})`));
    if (liveCount !== rows - deleted) throw new Error(`expected ${rows - deleted} live rows, read ${liveCount}`);
    console.log(JSON.stringify({ rows, deleted, reps, writeDvMs: round(writeDvMs), loadDvMs: round(loadDvMs), plainScanMs: plainMs, dvScanMs: dvMs, ratio: round(dvMs / plainMs, 2) }));
  } finally {
    duck.close();
    await rm(table, { recursive: true, force: true });
  }
}

/** Median ms of each query; the queries take turns, so a busy machine slows them alike. */
async function medians(duck: Duck, queries: string[], reps: number): Promise<number[]> {
  for (const sql of queries) await duck.rows(sql);
  const times = queries.map((): number[] => []);
  for (let i = 0; i < reps; i++) {
    for (const [q, sql] of queries.entries()) {
      const t = performance.now();
      await duck.rows(sql);
      times[q].push(performance.now() - t);
    }
  }
  return times.map((list) => round(list.sort((a, b) => a - b)[Math.floor(list.length / 2)]));
}

function round(value: number, digits = 1): number {
  return Number(value.toFixed(digits));
}

await main();
