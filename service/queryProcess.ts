/**
 * A query process: the service forks one per concurrent query slot and sends it one read-only
 * query at a time. Everything a query costs happens here, off the service's event loop: DuckDB's
 * work (capped by memory_limit, without spilling to disk), turning the rows into JS values and
 * JSON (capped by the JS heap limit the service starts this process with, and by the byte cap),
 * and a crash. The service kills this process when a query overstays its time by more than a
 * grace period (result conversion is synchronous and cannot be interrupted), and starts another.
 */
import { QueryRefusedError } from '../views/query.js';
import { duckdbMb, QueryFailure, type QueryFailureKind, type QueryProcessOpened, type QueryProcessSetup, type QueryReply, type QueryRequest, type QueryRows, type ServingMessage } from './queryProtocol.js';
import { ServingReader } from './servingReader.js';

// What the locked-down connection refuses at run time: reading files outside the lake's tables.
const PERMISSION = /(^|: )Permission Error/;
const OUT_OF_MEMORY = /(^|: )Out of Memory Error/;

const setup = JSON.parse(process.argv[2]) as QueryProcessSetup;
// No temp directory: a query over the memory limit fails instead of spilling to disk.
const reader = new ServingReader({ memory_limit: `${duckdbMb(setup)}MiB`, temp_directory: '' }, (opened) => process.send!({ opened } satisfies QueryProcessOpened));

async function answer(request: QueryRequest): Promise<QueryReply> {
  try {
    const result = await reader.query(request.sql, request.limit, request.timeoutMs);
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

process.on('message', (message: QueryRequest | ServingMessage) => {
  if ('serving' in message) reader.adopt(message.serving);
  else if ('step' in message) reader.step(message.step);
  else void answer(message).then((reply) => process.send!(reply));
});
// The service sends the views (a base and its delta) once this says ready.
process.send!({ ready: true });
// The service decides when this process ends: a Ctrl-C or a SIGTERM to the whole process group
// must not kill a query the service is still draining. It ends when the service disconnects
// (closing, or the service died).
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
process.on('disconnect', () => process.exit(0));
