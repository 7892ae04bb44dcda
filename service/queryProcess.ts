/**
 * A query process: the service forks one per concurrent query slot and sends it one read-only
 * query at a time. Everything a query costs happens here, off the service's event loop: DuckDB's
 * work (capped by memory_limit, without spilling to disk), turning the rows into JS values and
 * JSON (capped by the JS heap limit the service starts this process with, and by the byte cap),
 * and a crash. The service kills this process when a query overstays its time by more than a
 * grace period (result conversion is synchronous and cannot be interrupted), and starts another.
 */
import { LakeLayout } from '../lake/layout.js';
import { loadConfig } from '../projections/jobsConfig.js';
import { QueryRefusedError } from '../views/query.js';
import { duckdbMb, QueryFailure, type QueryFailureKind, type QueryProcessSetup, type QueryReply, type QueryRequest, type QueryRows } from './queryProtocol.js';
import { ViewsReader } from './viewsReader.js';

// What the locked-down connection refuses at run time: reading files outside the lake's tables.
const PERMISSION = /(^|: )Permission Error/;
const OUT_OF_MEMORY = /(^|: )Out of Memory Error/;

const setup = JSON.parse(process.argv[2]) as QueryProcessSetup;
let reader: Promise<ViewsReader> | null = null;

function views(): Promise<ViewsReader> {
  reader ??= (async () => {
    const config = await loadConfig({ config: setup.configFile ?? undefined, lake: setup.lake ?? undefined });
    const layout = new LakeLayout(config.lakeDir, config.stateDir ?? undefined);
    // No temp directory: a query over the memory limit fails instead of spilling to disk.
    return new ViewsReader(layout, config, { memory_limit: `${duckdbMb(setup)}MiB`, temp_directory: '' });
  })();
  reader.catch(() => (reader = null)); // a config that failed to load is tried again on the next query
  return reader;
}

async function answer(request: QueryRequest): Promise<QueryReply> {
  try {
    const result = await (await views()).query(request.sql, request.limit, request.timeoutMs);
    const rows: QueryRows = { columns: result.columns, rowsJson: rowsJson(result.rows, request.maxBytes), rowCount: result.rows.length, truncated: result.truncated ?? false };
    return { id: request.id, ok: true, ...rows };
  } catch (error) {
    return { id: request.id, ok: false, kind: kindOf(error as Error), message: (error as Error).message };
  }
}

/** The rows as one JSON array, refused once it would pass `maxBytes`. */
function rowsJson(rows: Record<string, unknown>[], maxBytes: number): string {
  const parts: string[] = [];
  let bytes = 2;
  for (const row of rows) {
    const json = JSON.stringify(row);
    bytes += Buffer.byteLength(json) + 1;
    if (bytes > maxBytes) {
      throw new QueryFailure('result_too_large', `the result is larger than ${maxBytes} bytes of JSON after ${parts.length} of ${rows.length} rows (serve --query-max-bytes); select fewer columns or rows (LIMIT)`);
    }
    parts.push(json);
  }
  return `[${parts.join(',')}]`;
}

function kindOf(error: Error): QueryFailureKind {
  if (error instanceof QueryFailure) return error.kind;
  if (error instanceof QueryRefusedError || PERMISSION.test(error.message)) return 'refused';
  if (OUT_OF_MEMORY.test(error.message)) return 'out_of_memory';
  return 'failed';
}

process.on('message', (request: QueryRequest) => {
  void answer(request).then((reply) => process.send!(reply));
});
// Load the config and open the views before saying ready, so no query's time goes to that.
void views()
  .then((reader) => reader.warmUp())
  .catch(() => undefined) // the first query reports it
  .then(() => process.send!({ ready: true }));
// The service decides when this process ends: a Ctrl-C or a SIGTERM to the whole process group
// must not kill a query the service is still draining. It ends when the service disconnects
// (closing, or the service died).
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
process.on('disconnect', () => process.exit(0));
