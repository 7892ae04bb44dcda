import type { FastifyInstance } from 'fastify';
import type { WriterStatus } from '../ingest/ingestRecovery.js';
import type { ServiceMetrics } from './metrics.js';
import type { ServiceStatus } from './serviceStatus.js';

export interface StatusRoutesOptions {
  status: ServiceStatus;
  metrics: ServiceMetrics;
  /** The ingester is open and takes commands. */
  ingesterOpen: () => boolean;
  /** The log writer's state: writing, or recovering from a failed commit (and for how long). */
  writer: () => WriterStatus;
  /** The views database has been built by this process. */
  viewsBuilt: () => boolean;
}

/**
 * Operational endpoints, open without the token so probes, Prometheus and the status page need
 * no secret; none of them returns read-model data.
 *
 *   GET /healthz          the process is up and its log writer is not stuck (liveness): 503 once the
 *                         writer has been recovering from a failed commit for longer than --unhealthy-after
 *   GET /readyz           the ingester takes commands and the views are built (readiness)
 *   GET /status           jobs with lag, ingest counters, uptime, recent commands and rejections
 *   GET /status/history   the lag samples behind the status page's chart, oldest first
 *   GET /metrics          Prometheus text
 */
export function statusRoutes(app: FastifyInstance, options: StatusRoutesOptions): void {
  const { status, metrics } = options;

  app.get('/healthz', async (_request, reply) => {
    const writer = options.writer();
    if (writer.state === 'writing') return { status: 'ok' };
    // Recovering for a while is healthy (a restart would not help); stuck for longer is not.
    reply.code(writer.unhealthy ? 503 : 200);
    return { status: writer.unhealthy ? 'unhealthy' : 'ok', writer };
  });

  app.get('/readyz', async (_request, reply) => {
    const checks = { ingester: options.ingesterOpen(), views: options.viewsBuilt() };
    const ready = checks.ingester && checks.views;
    reply.code(ready ? 200 : 503);
    const writer = options.writer();
    return { status: ready ? 'ready' : 'not_ready', checks, ...(writer.state === 'recovering' ? { writer } : {}) };
  });

  app.get('/status', async () => status.document());

  app.get('/status/history', async () => ({ samples: status.history() }));

  app.get('/metrics', async (_request, reply) => {
    metrics.observeJobs(await status.jobStatuses());
    reply.header('content-type', metrics.contentType);
    return metrics.text();
  });
}
