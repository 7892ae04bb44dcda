import { BloomFilter } from 'bloomfilter';
import { localFiles } from '../lake/delta/deltaTable.js';
import { dataFilePath, type Snapshot } from '../lake/delta/snapshot.js';
import { sqlIdent, sqlString, type Duck } from '../lake/duckdb.js';
import { logger } from '../lake/logger.js';
import { joinLocation } from '../lake/storage/locations.js';
import { fileStats } from './dataFiles.js';

/**
 * The keys a table may hold rows of. Never a false "no" (a state job would start a key anew and
 * lose its row's history); a false "maybe" only costs reading the table for that key.
 */
export interface KeyFilter {
  mayHold(key: string): boolean;
}

/** An empty table: it holds no key. */
export const NO_KEYS: KeyFilter = { mayHold: () => false };
/** A table whose keys are not known: any key may be there. */
export const ANY_KEY: KeyFilter = { mayHold: () => true };

/**
 * Bits and hashes a key: ~1 in a million false positives at the table's row count (m/n = 28.8,
 * k = 20; 3.6 bytes a key, 3.6 MB for 1M keys). A batch reads the table if any one of its keys
 * says "maybe": at 1% (9.6 bits, 7 hashes, before) a batch of 5,000 new keys under load always
 * had some ~50, and read its prior rows from the files for them, ~40% of its fold (traced at 20k
 * events with the bench's load client). Now such a batch reads the table about once in 200.
 */
const BITS_PER_KEY = 28.8;
const HASHES = 20;
/** Rows assumed for a file whose add action has no stats. */
const ROWS_WITHOUT_STATS = 65_536;

/**
 * A Bloom filter of the first key column's values in every data file of `snapshot`, as text (the
 * CAST gives the text form `keyOf`'s keys are brought to: stateKeys.ts). Rows deleted
 * by a deletion vector are counted too (a superset: their keys say "maybe", never a false "no").
 * One statement per file, so the values held at once are one file's (mutable files hold
 * 65,536 rows at most).
 *
 * Why a filter and not the files' min/max stats: mutable files are clustered by key with
 * disjoint ranges that together cover the key space, so a new random key (a UUID order id, a
 * command id) almost always falls inside some file's range and the stats cannot rule it out.
 */
export async function loadTableKeys(duck: Duck, tableDir: string, snapshot: Snapshot, keyColumn: string): Promise<KeyFilter> {
  const adds = [...snapshot.files.values()];
  if (adds.length === 0) return NO_KEYS;
  const rows = adds.reduce((sum, add) => sum + (fileStats(add)?.numRecords ?? ROWS_WITHOUT_STATS), 0);
  const filter = new BloomFilter(Math.max(1024, Math.ceil(rows * BITS_PER_KEY)), HASHES);
  const locals = await localFiles(adds.map((add) => joinLocation(tableDir, dataFilePath(add.path))));
  for (const local of locals) {
    const [row] = await duck.rows(`SELECT list(CAST(${sqlIdent(keyColumn)} AS VARCHAR)) AS keys FROM read_parquet(${sqlString(local)})`);
    for (const key of (row?.keys as (string | null)[] | null) ?? []) if (key !== null) filter.add(key);
  }
  return { mayHold: (key) => filter.test(key) };
}

/**
 * A filter read in the background: "maybe" for every key until `load` has read it (or for good
 * when it failed), so the first commands after a pass opens do not wait for every key of the
 * table (1M keys: ~3 s of CPU, tableKeys.ts). Exact all along: the loaded filter holds the keys
 * of the snapshot the pass opened at, whenever it is ready.
 */
export function keysReadBehind(load: Promise<KeyFilter>, table: string): KeyFilter {
  let known: KeyFilter = ANY_KEY;
  load.then(
    (filter) => (known = filter),
    (error: Error) => logger.warn({ table, error: error.message }, 'could not read the table\'s keys: every new key is looked up in its files'),
  );
  return { mayHold: (key) => known.mayHold(key) };
}
