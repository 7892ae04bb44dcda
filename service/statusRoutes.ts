import type { FastifyInstance } from 'fastify';
import type { ServiceMetrics } from './metrics.js';
import type { ServiceStatus } from './serviceStatus.js';

export interface StatusRoutesOptions {
  status: ServiceStatus;
  metrics: ServiceMetrics;
  /** The ingester is open and has not failed. */
  ingesterOpen: () => boolean;
  /** The views database has been built by this process. */
  viewsBuilt: () => boolean;
}

/**
 * Operational endpoints, open without the token so probes, Prometheus and the status page need
 * no secret; none of them returns read-model data.
 *
 *   GET /healthz          the process is up (liveness)
 *   GET /readyz           the ingester is open and the views are built (readiness)
 *   GET /status           jobs with lag, ingest counters, uptime, recent commands and rejections
 *   GET /status/history   the lag samples behind the status page's chart, oldest first
 *   GET /metrics          Prometheus text
 */
export function statusRoutes(app: FastifyInstance, options: StatusRoutesOptions): void {
  const { status, metrics } = options;

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const checks = { ingester: options.ingesterOpen(), views: options.viewsBuilt() };
    const ready = checks.ingester && checks.views;
    reply.code(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'not_ready', checks };
  });

  app.get('/status', async () => status.document());

  app.get('/status/history', async () => ({ samples: status.history() }));

  app.get('/metrics', async (_request, reply) => {
    metrics.observeJobs(await status.jobStatuses());
    reply.header('content-type', metrics.contentType);
    return metrics.text();
  });
}
