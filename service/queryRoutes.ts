import type { FastifyInstance, preHandlerHookHandler } from 'fastify';
import { QueryRefusedError } from '../views/query.js';
import { HttpError } from './httpError.js';
import type { ServiceMetrics } from './metrics.js';
import { QueryTimeoutError, ViewsNotReadyError, type ViewsReader } from './viewsReader.js';

export interface QueryRoutesOptions {
  views: ViewsReader;
  metrics: ServiceMetrics;
  /** Default and largest row count. */
  rowLimit: number;
  guard: preHandlerHookHandler;
}

interface QueryBody {
  sql: string;
  limit?: number;
}

// DuckDB errors that are the query's fault, by the error class DuckDB names first in the message.
// The driver may put its own words first ("Failed to extract statements: Parser Error: ...").
const INVALID_QUERY = /(^|: )(Parser|Binder|Catalog|Conversion|Invalid Input|Out of Range|Not implemented|Invalid) Error|^expected exactly one SQL statement/;
// What the locked-down connection refuses at run time: reading files outside the lake's tables.
const REFUSED = /(^|: )Permission Error/;
// A write DuckDB could not even bind against the read-only views (INSERT INTO a view fails as a
// catalog error before its kind is known): answer with what it is, a refused write.
const WRITING = /^\s*(INSERT|UPDATE|DELETE|MERGE|TRUNCATE|CREATE|DROP|ALTER|COPY|ATTACH|DETACH|INSTALL|LOAD|SET|RESET|PRAGMA|CALL|EXPORT|IMPORT|VACUUM|CHECKPOINT|USE)\b/i;

/**
 * POST /query `{sql, limit?}`: one read-only statement over the views database, at most `limit`
 * rows (default and ceiling: the configured row limit; `truncated` says whether more existed).
 *
 * Refusals are DuckDB's own (see openReadOnlyViews): anything but SELECT/EXPLAIN, ATTACH,
 * INSTALL/LOAD, SET, and file reads outside the lake's tables all answer 400 with the reason.
 * A query past the timeout is interrupted and answered 504.
 */
export function queryRoutes(app: FastifyInstance, options: QueryRoutesOptions): void {
  const { views, metrics, rowLimit } = options;
  const schema = {
    body: {
      type: 'object',
      required: ['sql'],
      additionalProperties: false,
      properties: { sql: { type: 'string', minLength: 1 }, limit: { type: 'integer', minimum: 1 } },
    },
  };

  app.post<{ Body: QueryBody }>('/query', { schema, preHandler: options.guard }, async (request) => {
    const limit = Math.min(request.body.limit ?? rowLimit, rowLimit);
    try {
      const result = await views.query(request.body.sql, limit);
      metrics.queries.inc({ result: 'ok' });
      return { columns: result.columns, rows: result.rows, rowCount: result.rows.length, limit, truncated: result.truncated ?? false };
    } catch (error) {
      throw answerFor(error as Error, request.body.sql, metrics);
    }
  });
}

function answerFor(error: Error, sql: string, metrics: ServiceMetrics): Error {
  if (error instanceof QueryRefusedError || REFUSED.test(error.message)) {
    metrics.queries.inc({ result: 'refused' });
    return new HttpError(400, 'query_refused', error.message);
  }
  const writing = WRITING.exec(sql);
  if (writing && INVALID_QUERY.test(error.message)) {
    metrics.queries.inc({ result: 'refused' });
    return new HttpError(400, 'query_refused', `only read-only queries are allowed here (SELECT, EXPLAIN); this is a ${writing[1].toUpperCase()} statement (${error.message})`);
  }
  if (error instanceof QueryTimeoutError) {
    metrics.queries.inc({ result: 'timeout' });
    return new HttpError(504, 'query_timeout', error.message);
  }
  if (error instanceof ViewsNotReadyError) {
    metrics.queries.inc({ result: 'error' });
    return new HttpError(503, 'views_not_ready', error.message);
  }
  if (INVALID_QUERY.test(error.message)) {
    metrics.queries.inc({ result: 'invalid' });
    return new HttpError(400, 'invalid_query', error.message);
  }
  metrics.queries.inc({ result: 'error' });
  return error;
}
