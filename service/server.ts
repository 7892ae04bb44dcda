import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { IngestRecovery } from '../ingest/ingestRecovery.js';
import { Ingester } from '../ingest/ingester.js';
import { consumersWithinHead } from '../projections/logConsumers.js';
import type { LakeLayout } from '../lake/layout.js';
import { logger } from '../lake/logger.js';
import type { EventlakeConfig } from '../projections/jobsConfig.js';
import { requireToken } from './auth.js';
import { limitBodiesInFlight } from './bodyBudget.js';
import { ChangeFeed } from './changeFeed.js';
import { clientLimitOptions, limitConnections } from './clientLimits.js';
import { commandRoutes } from './commandRoutes.js';
import { drainOnClose } from './drain.js';
import { HttpError } from './httpError.js';
import { IngestActivity } from './ingestActivity.js';
import { runForwarder } from '../lake/stream/eventHubsForwarder.js';
import { LiveProjections } from './liveProjections.js';
import { ServiceMetrics } from './metrics.js';
import { QueryPool } from './queryPool.js';
import { queryRoutes } from './queryRoutes.js';
import { Scheduler } from './scheduler.js';
import type { ServiceConfig } from './serviceConfig.js';
import { ServiceStatus } from './serviceStatus.js';
import { statusPage } from './statusPage.js';
import { statusRoutes } from './statusRoutes.js';

/** A running `eventlake serve`: the HTTP app plus the lake it owns. */
export interface Service {
  app: FastifyInstance;
  /** Starts listening and the background work; resolves with the bound URL. */
  listen(): Promise<string>;
  /**
   * Graceful stop: refuse new requests, let in-flight ones finish (their commands are committed
   * before they answer), let a job run in progress finish, then close the ingester, which commits
   * whatever is left and may write a snapshot.
   */
  close(): Promise<void>;
}

/**
 * Most time a live change waits before it is merged into views.duckdb, which outside clients
 * read (queries through the service see it at once). A merge copies the file, so under steady
 * load it runs about this often.
 */
const VIEWS_MERGE_DELAY_MS = 1_000;

/**
 * Builds the service over a lake: opens the ingester (taking the log writer's lock, so this is
 * the lake's only writer while it runs) and wires the routes. Nothing listens until `listen()`.
 */
export async function createService(config: EventlakeConfig, layout: LakeLayout, options: ServiceConfig): Promise<Service> {
  // Refuse to open (and trim) the log while a job or the forwarder has read past its head.
  const ingester = await Ingester.open(layout, config.registry, { partitions: config.partitions, ...config.limits, verifyHead: consumersWithinHead(layout, config.jobs) });
  // After a failed commit the writer comes back by itself; meanwhile commands get 503 + Retry-After.
  const recovery = new IngestRecovery(ingester, { unhealthyAfterMs: options.unhealthyAfterMs });
  let stopped = false;
  const writerUp = () => !stopped && !ingester.failed && recovery.status.state === 'writing';
  try {
    const metrics = new ServiceMetrics(config.jobs.map((j) => j.name), config.registry.rejectionCodes);
    const activity = new IngestActivity(metrics, config.registry.rejectionCodes);
    const feed = new ChangeFeed();
    const runner: LiveProjections = new LiveProjections({
      config,
      layout,
      metrics,
      intervalMs: options.liveIntervalMs,
      live: options.live,
      logHead: () => ingester.head,
      onChange: (changes) => feed.publish(changes),
      tell: (message) => queries.tell(message),
      basesInUse: () => queries.basesInUse(),
      mergeDelayMs: VIEWS_MERGE_DELAY_MS,
    });
    const scheduler = new Scheduler(options.scheduler ? config.jobs : [], runner);
    const queries: QueryPool = new QueryPool({
      setup: { memoryMb: options.queryMemoryMb },
      serving: () => runner.servingState(),
      concurrency: options.queryConcurrency,
      queueLimit: options.queryQueue,
      timeoutMs: options.queryTimeoutMs,
      maxBytes: options.queryMaxBytes,
      onLoad: ({ running, waiting }) => {
        metrics.queriesRunning.set(running);
        metrics.queriesWaiting.set(waiting);
      },
    });
    const status = new ServiceStatus({
      config,
      layout,
      runner,
      scheduler,
      activity,
      logHead: () => ingester.head,
      ready: () => writerUp() && runner.viewsBuiltAt !== null,
      flags: { live: options.live, liveIntervalMs: options.liveIntervalMs, auth: options.token !== null, changeSubscribers: () => feed.subscribers },
      historySamples: options.historySamples,
    });
    const guard = requireToken(options.token);

    const app = Fastify({
      // Request lines carry no headers, and the redaction is a second line of defence: the token never reaches a log.
      loggerInstance: logger.child({ component: 'http' }, { redact: ['req.headers.authorization', 'req.headers["x-api-key"]'] }) as FastifyBaseLogger,
      ...clientLimitOptions(options),
      return503OnClosing: true,
    });
    limitConnections(app.server, options.maxConnections);
    limitBodiesInFlight(app, options.bodyBudget, options.bodyLimit);
    app.setErrorHandler((error: FastifyError | HttpError, request, reply) => {
      const statusCode = error.statusCode ?? 500;
      if (statusCode >= 500 && !(error instanceof HttpError)) request.log.error({ err: error }, 'request failed');
      if (error instanceof HttpError) reply.headers(error.headers);
      reply.code(statusCode).send({ error: { code: errorCode(error, statusCode), message: errorMessage(error, statusCode, options.bodyLimit) } });
    });
    app.setNotFoundHandler((request, reply) => {
      reply.code(404).send({ error: { code: 'not_found', message: `no route for ${request.method} ${request.url}` } });
    });
    // JSON only: a text/plain body is answered 415, not parsed as a string and then refused as a bad shape.
    app.removeContentTypeParser('text/plain');
    // Event streams never end by themselves: end them when closing starts.
    drainOnClose(app, options.drainTimeoutMs, () => feed.close());

    commandRoutes(app, {
      ingester,
      activity,
      metrics,
      maxBatch: options.maxBatch,
      guard,
      onCommitted: () => runner.notify(),
      onWriteFailure: (error) => recovery.start(error),
      unavailable: () => (writerUp() ? null : { retryAfterSeconds: recovery.retryAfterSeconds(), status: recovery.status }),
    });
    queryRoutes(app, { queries, metrics, rowLimit: options.queryRowLimit, timeoutMs: options.queryTimeoutMs, showing: (after, readModels, timeoutMs) => runner.showing(after, readModels, timeoutMs), guard });
    statusRoutes(app, { status, metrics, ingesterOpen: writerUp, writer: () => recovery.status, viewsBuilt: () => runner.viewsBuiltAt !== null });
    app.get('/events/stream', (request, reply) => feed.subscribe(request, reply, { viewsBuiltAt: runner.viewsBuiltAt }));
    statusPage(app);

    // The outbox runs beside the service when asked: it reads the lake log, not the ingester.
    const forwarding = new AbortController();
    let forwarder: Promise<unknown> = Promise.resolve();
    let closing: Promise<void> | null = null;
    return {
      app,
      async listen() {
        await app.listen({ host: options.host, port: options.port });
        runner.start();
        scheduler.start();
        if (options.forward) forwarder = runForwarder({ layout, eventHubs: config.eventHubs }, forwarding.signal).catch((error: Error) => logger.error({ err: error }, 'the Event Hubs forwarder stopped'));
        status.start(options.sampleIntervalMs);
        const address = app.server.address();
        const port = typeof address === 'object' && address ? address.port : options.port;
        const host = options.host.includes(':') && !options.host.startsWith('[') ? `[${options.host}]` : options.host;
        return `http://${host}:${port}`;
      },
      close() {
        closing ??= (async () => {
          try {
            await app.close();
            logger.info('http server closed; stopping the runner loop');
            scheduler.stop();
            status.stop();
            forwarding.abort();
            await forwarder;
            queries.close();
            await runner.stop();
          } finally {
            stopped = true;
            await recovery.stop();
            logger.info('closing the ingester');
            await ingester.close();
          }
        })();
        return closing;
      },
    };
  } catch (error) {
    await ingester.close();
    throw error;
  }
}

function errorCode(error: FastifyError | HttpError, statusCode: number): string {
  if (error instanceof HttpError) return error.code;
  if (statusCode === 413) return 'body_too_large';
  if (statusCode === 415) return 'unsupported_media_type';
  if (statusCode === 400 && (error as FastifyError).validation) return 'bad_request';
  if (statusCode === 400 && /JSON/i.test(error.message)) return 'invalid_json';
  if (statusCode === 503) return 'unavailable';
  return statusCode >= 500 ? 'internal' : 'bad_request';
}

function errorMessage(error: FastifyError | HttpError, statusCode: number, bodyLimit: number): string {
  if (error instanceof HttpError) return error.message;
  if (statusCode === 413) return `the request body is larger than the limit of ${bodyLimit} bytes (serve --body-limit)`;
  if (statusCode === 415) return 'send JSON with "Content-Type: application/json"';
  if (statusCode >= 500) return 'internal error; see the service log';
  return `the body is not valid JSON or not what this endpoint takes: ${error.message}`;
}
