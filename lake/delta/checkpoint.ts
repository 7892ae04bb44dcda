import { rm, writeFile } from 'node:fs/promises';
import { Duck, sqlIdent, sqlPathList, sqlString } from '../duckdb.js';
import { formatActions, type Action } from './actions.js';
import {
  actionsFromCheckpointRow,
  CHECKPOINT_COLUMNS,
  checkpointActions,
  type LastCheckpoint,
  type TombstonePolicy,
} from './checkpointSchema.js';
import { NotFoundError } from '../storage/lakeStorage.js';
import { processTempPath } from '../processTemp.js';
import { locate } from '../storage/locations.js';
import { checkpointPath, lastCheckpointPath } from './logFiles.js';
import type { Snapshot } from './snapshot.js';
import { assertWritable } from './tableFeatures.js';

/** Reading and writing Parquet checkpoints and `_last_checkpoint`, through DuckDB. */

/**
 * The actions in a checkpoint's Parquet file(s). Columns a writer left out read as absent.
 * `reader`: a DuckDB to read them with (a job's pass has one: a new instance costs ~40 ms of CPU
 * and flushes the process's allocator); without it, one is opened for the read.
 */
export async function readCheckpoint(locations: string[], reader?: () => Promise<Duck>): Promise<Action[]> {
  const paths = await Promise.all(locations.map((l) => locate(l)).map(({ storage, path: p }) => storage.localPath(p)));
  const duck = reader ? await reader() : await Duck.open();
  try {
    // to_json of the whole row turns maps into objects and BIGINTs into numbers: the same shapes
    // JSON.parse gives for a commit file, so both sources replay through one code path.
    const rows = await duck.rows(
      `SELECT to_json(t) AS row FROM read_parquet(${sqlPathList(paths)}, union_by_name = true) AS t`,
    );
    return rows.flatMap((r) => actionsFromCheckpointRow(JSON.parse(String(r.row)) as Record<string, unknown>));
  } finally {
    if (!reader) duck.close();
  }
}

/** The `_last_checkpoint` hint, or undefined when absent or unreadable (readers then list). */
export async function readLastCheckpoint(tableDir: string): Promise<LastCheckpoint | undefined> {
  let text: string;
  try {
    const { storage, path: file } = locate(lastCheckpointPath(tableDir));
    text = (await storage.read(file)).toString('utf8');
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LastCheckpoint>;
    return typeof parsed.version === 'number' ? (parsed as LastCheckpoint) : undefined;
  } catch {
    // It is only a hint: a garbled one must not make the table unreadable.
    return undefined;
  }
}

/** Where a checkpoint was written and how many actions (rows) it holds. */
export interface WrittenCheckpoint {
  path: string;
  size: number;
}

/**
 * Writes `NNNNNNNNNNNNNNNNNNNN.checkpoint.parquet` for the snapshot's version (a classic V1
 * checkpoint that any Delta reader accepts), then points `_last_checkpoint` at it. Both appear
 * atomically; a reader never sees a half-written checkpoint.
 */
export async function writeCheckpoint(
  tableDir: string,
  snapshot: Snapshot,
  policy: TombstonePolicy = {},
  /** A DuckDB to write the Parquet with (as readCheckpoint's `reader`); else one is opened. */
  writer?: Duck,
): Promise<WrittenCheckpoint> {
  // The checkpoint columns carry the state of the features eventlake implements (deletion vectors
  // included); a table using others (row tracking, domain metadata, ...) would lose state.
  assertWritable(tableDir, snapshot.protocol, 'checkpoint');
  const actions = checkpointActions(snapshot, policy);
  const target = checkpointPath(tableDir, snapshot.version);
  const parquetTemp = processTempPath('checkpoint', 'parquet');
  try {
    await copyActionsToParquet(actions, parquetTemp, writer);
    // Two writers checkpointing one version write the same state, so the last upload may win.
    const { storage, path: file } = locate(target);
    await storage.upload(parquetTemp, file);
  } finally {
    await rm(parquetTemp, { force: true });
  }
  await pointLastCheckpointAt(tableDir, { version: snapshot.version, size: actions.length });
  return { path: target, size: actions.length };
}

/** Has DuckDB type the actions (as NDJSON) with the checkpoint columns and write them as Parquet. */
async function copyActionsToParquet(actions: Action[], parquetFile: string, writer?: Duck): Promise<void> {
  const rowsFile = `${parquetFile}.ndjson`;
  await writeFile(rowsFile, formatActions(actions), 'utf8');
  const duck = writer ?? (await Duck.open());
  try {
    const columns = Object.entries(CHECKPOINT_COLUMNS)
      .map(([name, type]) => `${sqlString(name)}: ${sqlString(type)}`)
      .join(', ');
    const select = Object.keys(CHECKPOINT_COLUMNS).map(sqlIdent).join(', ');
    await duck.run(
      `COPY (SELECT ${select} FROM read_json(${sqlString(rowsFile)}, format = 'newline_delimited', ` +
        `columns = {${columns}})) TO ${sqlString(parquetFile)} (FORMAT parquet)`,
    );
  } finally {
    if (!writer) duck.close();
    await rm(rowsFile, { force: true });
  }
}

// Never move the hint backwards: a checkpoint of an older version (e.g. written during time travel)
// must not make readers replay more of the log than they need to.
async function pointLastCheckpointAt(tableDir: string, last: LastCheckpoint): Promise<void> {
  const current = await readLastCheckpoint(tableDir);
  if (current && current.version > last.version) return;
  const { storage, path: file } = locate(lastCheckpointPath(tableDir));
  await storage.replace(file, JSON.stringify(last));
}
