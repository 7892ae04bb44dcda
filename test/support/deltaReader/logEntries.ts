import { readFile } from 'node:fs/promises';
import type { Action } from './actions.js';
import { readParquetRows } from './parquetRows.js';

const KNOWN = ['add', 'remove', 'metaData', 'protocol', 'txn', 'commitInfo'] as const;

/** The actions of one JSON commit: one JSON object per line; unknown actions are skipped. */
export async function readJsonCommit(file: string): Promise<Action[]> {
  const text = await readFile(file, 'utf8');
  const actions: Action[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      throw new Error(`${file}:${i + 1} is not JSON: ${(error as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${file}:${i + 1} is not an action object`);
    const kind = KNOWN.find((k) => k in parsed!);
    if (kind) actions.push({ [kind]: (parsed as Record<string, unknown>)[kind] } as Action);
  });
  return actions;
}

/**
 * The actions of a classic or multi-part checkpoint (PROTOCOL.md, "Checkpoint Schema"): one
 * action per row, in the one non-null column of the row. Longs come out of Parquet as BigInt and
 * are made numbers, null fields are dropped (a struct column has every field; JSON leaves absent
 * ones out), and stats written only as `stats_parsed` are turned back into the JSON form.
 */
export async function readCheckpoint(files: string[]): Promise<Action[]> {
  const actions: Action[] = [];
  for (const file of files) {
    for (const row of (await readParquetRows(file)).rows) {
      const kind = (['add', 'remove', 'metaData', 'protocol', 'txn'] as const).find((k) => row[k] !== null && row[k] !== undefined);
      if (!kind) continue;
      const action = plain(row[kind]) as Record<string, unknown>;
      if ((kind === 'add' || kind === 'remove') && (action.stats === null || action.stats === undefined) && action.stats_parsed) {
        action.stats = JSON.stringify(action.stats_parsed);
      }
      actions.push({ [kind]: action } as Action);
    }
  }
  return actions;
}

function plain(value: unknown, keepNulls = false): unknown {
  if (typeof value === 'bigint') {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) throw new Error(`checkpoint value ${value} does not fit a JS number`);
    return Number(value);
  }
  if (Array.isArray(value)) return value.map((v) => plain(v));
  if (value && typeof value === 'object' && !(value instanceof Uint8Array)) {
    // A null in the partitionValues map is a null partition value, not an absent field.
    const entries = Object.entries(value).filter(([, v]) => keepNulls || (v !== null && v !== undefined));
    return Object.fromEntries(entries.map(([k, v]) => [k, plain(v, k === 'partitionValues')]));
  }
  return value;
}
