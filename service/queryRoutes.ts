import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { partitionStream } from '../lake/log/logMeta.js';
import { HttpError } from './httpError.js';
import { ShowingRefused } from './liveProjections.js';
import type { ServiceMetrics } from './metrics.js';
import type { QueryPool } from './queryPool.js';
import { QueryFailure } from './queryProtocol.js';

export interface QueryRoutesOptions {
  queries: QueryPool;
  metrics: ServiceMetrics;
  /** Default and largest row count. */
  rowLimit: number;
  /** --query-timeout: waiting for `after` spends it too. */
  timeoutMs: number;
  /** Resolves once the read models show the log up to `after` (LiveProjections.showing): the read models still lagging after `timeoutMs`. */
  showing: (after: Record<string, number>, readModels: string[] | undefined, timeoutMs: number) => Promise<string[]>;
  guard: onRequestHookHandler;
}

interface QueryBody {
  sql: string;
  limit?: number;
  /** Log positions (the `events` POST /commands answered): answer only once the read models show them. */
  after?: { partition: number; sequence: number }[];
  /** With `after`: the read models to wait for (default: every live one). */
  readModels?: string[];
}

// DuckDB errors that are the query's fault, by the error class DuckDB names first in the message.
// The driver may put its own words first ("Failed to extract statements: Parser Error: ...").
const INVALID_QUERY = /(^|: )(Parser|Binder|Catalog|Conversion|Invalid Input|Out of Range|Not implemented|Invalid) Error|^expected exactly one SQL statement/;
// A write DuckDB could not even bind against the read-only views (INSERT INTO a view fails as a
// catalog error before its kind is known): answer with what it is, a refused write.
const WRITING = /^\s*(INSERT|UPDATE|DELETE|MERGE|TRUNCATE|CREATE|DROP|ALTER|COPY|ATTACH|DETACH|INSTALL|LOAD|SET|RESET|PRAGMA|CALL|EXPORT|IMPORT|VACUUM|CHECKPOINT|USE)\b/i;

/**
 * POST /query `{sql, limit?}`: one read-only statement over the views database, at most `limit`
 * rows (default and ceiling: the configured row limit; `truncated` says whether more existed).
 *
 * Refusals are DuckDB's own (see openReadOnlyViews): anything but SELECT/EXPLAIN, ATTACH,
 * INSTALL/LOAD, SET, and file reads outside the lake's tables all answer 400 with the reason.
 * Queries run in query processes (see QueryPool): past the timeout (waiting included) a query is
 * stopped and answered 504, a full queue answers 503 with Retry-After, and a query over the
 * memory or result-size cap 422.
 */
export function queryRoutes(app: FastifyInstance, options: QueryRoutesOptions): void {
  const { queries, metrics, rowLimit } = options;
  const schema = {
    body: {
      type: 'object',
      required: ['sql'],
      additionalProperties: false,
      properties: {
        sql: { type: 'string', minLength: 1 },
        limit: { type: 'integer', minimum: 1 },
        // The events of a POST /commands answer as they are (their other fields are ignored).
        after: { type: 'array', minItems: 1, items: { type: 'object', required: ['partition', 'sequence'], properties: { partition: { type: 'integer', minimum: 0 }, sequence: { type: 'integer', minimum: 1 } } } },
        readModels: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
      },
      dependencies: { readModels: ['after'] },
    },
  };

  app.post<{ Body: QueryBody }>('/query', { schema, onRequest: options.guard }, async (request, reply) => {
    const arrived = Date.now();
    const limit = Math.min(request.body.limit ?? rowLimit, rowLimit);
    const { after, readModels } = request.body;
    if (after) await waitForAfter(options, after, readModels, metrics);
    try {
      const result = await queries.run(request.body.sql, limit, arrived);
      metrics.queries.inc({ result: 'ok' });
      // The rows are JSON already (serialized in the query process): splice them in, do not parse them.
      reply.type('application/json; charset=utf-8');
      return `{"columns":${JSON.stringify(result.columns)},"rows":${result.rowsJson},"rowCount":${result.rowCount},"limit":${limit},"truncated":${result.truncated}}`;
    } catch (error) {
      throw answerFor(error as Error, request.body.sql, metrics);
    }
  });
}

/**
 * Read your own writes: holds the query until the read models show every event of `after` (the
 * positions a POST /commands answered), within the query's time.
 */
async function waitForAfter(options: QueryRoutesOptions, after: NonNullable<QueryBody['after']>, readModels: string[] | undefined, metrics: ServiceMetrics): Promise<void> {
  const positions: Record<string, number> = {};
  for (const { partition, sequence } of after) {
    const stream = partitionStream(partition);
    positions[stream] = Math.max(positions[stream] ?? 0, sequence);
  }
  let lagging: string[];
  try {
    lagging = await options.showing(positions, readModels, options.timeoutMs);
  } catch (error) {
    if (!(error instanceof ShowingRefused)) throw error;
    metrics.queries.inc({ result: 'refused' });
    throw new HttpError(400, 'bad_after', error.message);
  }
  if (lagging.length === 0) return;
  metrics.queries.inc({ result: 'timeout' });
  throw new HttpError(504, 'query_timeout', `the read models ${lagging.join(', ')} did not show the positions of \`after\` within ${options.timeoutMs} ms (serve --query-timeout); their jobs may be failing (GET /status) or far behind`);
}

function answerFor(error: Error, sql: string, metrics: ServiceMetrics): Error {
  const kind = error instanceof QueryFailure ? error.kind : 'failed';
  const answer = (result: string, status: number, code: string, message = error.message, headers?: Record<string, string>) => {
    metrics.queries.inc({ result });
    return new HttpError(status, code, message, headers);
  };
  switch (kind) {
    case 'refused':
      return answer('refused', 400, 'query_refused');
    case 'timeout':
      return answer('timeout', 504, 'query_timeout');
    case 'busy':
      return answer('busy', 503, 'queries_busy', error.message, { 'retry-after': '1' });
    case 'stopping':
      return answer('error', 503, 'unavailable');
    case 'not_ready':
      return answer('error', 503, 'views_not_ready');
    case 'result_too_large':
      return answer('too_large', 422, 'result_too_large');
    case 'out_of_memory':
      return answer('too_large', 422, 'query_out_of_memory', `the query needs more memory than one query may use (serve --query-memory): ${error.message.split('\n')[0]}; narrow it (filters, fewer or smaller columns, LIMIT)`);
  }
  const writing = WRITING.exec(sql);
  if (writing && INVALID_QUERY.test(error.message)) {
    return answer('refused', 400, 'query_refused', `only read-only queries are allowed here (SELECT, EXPLAIN); this is a ${writing[1].toUpperCase()} statement (${error.message})`);
  }
  if (INVALID_QUERY.test(error.message)) return answer('invalid', 400, 'invalid_query');
  metrics.queries.inc({ result: 'error' });
  return error;
}
