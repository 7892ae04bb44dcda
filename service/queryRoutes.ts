import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { HttpError } from './httpError.js';
import type { ServiceMetrics } from './metrics.js';
import type { QueryPool } from './queryPool.js';
import { QueryFailure } from './queryProtocol.js';

export interface QueryRoutesOptions {
  queries: QueryPool;
  metrics: ServiceMetrics;
  /** Default and largest row count. */
  rowLimit: number;
  guard: onRequestHookHandler;
}

interface QueryBody {
  sql: string;
  limit?: number;
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
      properties: { sql: { type: 'string', minLength: 1 }, limit: { type: 'integer', minimum: 1 } },
    },
  };

  app.post<{ Body: QueryBody }>('/query', { schema, onRequest: options.guard }, async (request, reply) => {
    const limit = Math.min(request.body.limit ?? rowLimit, rowLimit);
    try {
      const result = await queries.run(request.body.sql, limit);
      metrics.queries.inc({ result: 'ok' });
      // The rows are JSON already (serialized in the query process): splice them in, do not parse them.
      reply.type('application/json; charset=utf-8');
      return `{"columns":${JSON.stringify(result.columns)},"rows":${result.rowsJson},"rowCount":${result.rowCount},"limit":${limit},"truncated":${result.truncated}}`;
    } catch (error) {
      throw answerFor(error as Error, request.body.sql, metrics);
    }
  });
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
