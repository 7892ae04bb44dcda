/** How `eventlake serve` runs: where it listens, what it guards, how often the read side moves. */
export interface ServiceConfig {
  /** Interface to listen on; anything but loopback needs a token. */
  host: string;
  /** TCP port; 0 picks a free one (the bound URL is printed). */
  port: number;
  /**
   * Shared secret for writes and data reads (`Authorization: Bearer ...` or `X-API-Key: ...`);
   * null leaves the service open, which is allowed on loopback only.
   */
  token: string | null;
  /** Live projections poll the log this often (ms) besides being woken by each commit. */
  liveIntervalMs: number;
  /** Most commands in one POST /commands array. */
  maxBatch: number;
  /** Largest request body in bytes. */
  bodyLimit: number;
  /**
   * Request bodies being received or handled at once may hold at most this many bytes together;
   * a request that would go over is answered 503 before its body is read.
   */
  bodyBudget: number;
  /** A client must have sent a request's headers within this long (ms) of starting it. */
  headerTimeoutMs: number;
  /** A client must have sent a whole request, headers and body, within this long (ms). */
  requestTimeoutMs: number;
  /** Most TCP connections open at once; further ones are closed as they arrive. */
  maxConnections: number;
  /** After SIGTERM, requests still unfinished this long (ms) are cut off (their connections closed). */
  drainTimeoutMs: number;
  /** Default and largest row count a POST /query answers with. */
  queryRowLimit: number;
  /** A query not answered this long (ms) after it arrived, waiting included, is stopped. */
  queryTimeoutMs: number;
  /** Queries run at once, each in a query process of its own. */
  queryConcurrency: number;
  /** Queries that may wait for a free query process; one more is answered 503. */
  queryQueue: number;
  /**
   * Memory (MiB) a query process may hold (its RSS; killed past it): half is DuckDB's
   * memory_limit, half the JS heap that converts results.
   */
  queryMemoryMb: number;
  /** Largest answer of one query, in bytes of JSON rows; a larger one is refused. */
  queryMaxBytes: number;
  /** How often (ms) the status page's lag history takes a sample. */
  sampleIntervalMs: number;
  /** How many samples the lag history keeps (the status page's chart width). */
  historySamples: number;
  /** Run jobs with `live: true` while serving; off leaves the read side to `eventlake run`. */
  live: boolean;
  /** Run jobs with a cron `schedule` with the built-in scheduler. */
  scheduler: boolean;
  /** Run the outbox forwarder (lake log -> Event Hubs, config `eventHubs`) while serving. */
  forward: boolean;
  /** /healthz fails once the log writer has been down this long (ms) without recovering. */
  unhealthyAfterMs: number;
}

export const SERVICE_DEFAULTS: ServiceConfig = {
  host: '127.0.0.1',
  port: 8080,
  token: null,
  liveIntervalMs: 200,
  maxBatch: 1000,
  bodyLimit: 8 * 1024 * 1024,
  bodyBudget: 64 * 1024 * 1024,
  headerTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  maxConnections: 512,
  drainTimeoutMs: 10_000,
  queryRowLimit: 10_000,
  queryTimeoutMs: 30_000,
  queryConcurrency: 2,
  queryQueue: 16,
  queryMemoryMb: 1024,
  queryMaxBytes: 32 * 1024 * 1024,
  sampleIntervalMs: 5_000,
  historySamples: 180,
  live: true,
  scheduler: true,
  forward: false,
  unhealthyAfterMs: 5 * 60_000,
};

/** The environment variable a deployment sets the token in (kept out of `ps` and shell history). */
export const TOKEN_ENV = 'EVENTLAKE_API_TOKEN';

export class ServiceConfigError extends Error {}

/**
 * Fills defaults, takes the token from the environment when none was given, and refuses
 * combinations that would be unsafe or meaningless, before anything is opened.
 */
export function resolveServiceConfig(given: Partial<ServiceConfig>, env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as Partial<ServiceConfig>;
  const config: ServiceConfig = { ...SERVICE_DEFAULTS, ...defined };
  config.token = apiToken(given.token, env);
  positiveInteger(config.port, 'port', 0, 65_535);
  positiveInteger(config.liveIntervalMs, 'interval', 10);
  positiveInteger(config.maxBatch, 'max batch', 1);
  positiveInteger(config.bodyLimit, 'body limit', 64);
  positiveInteger(config.bodyBudget, 'body budget', config.bodyLimit);
  positiveInteger(config.headerTimeoutMs, 'header timeout', 100);
  positiveInteger(config.requestTimeoutMs, 'request timeout', config.headerTimeoutMs);
  positiveInteger(config.maxConnections, 'max connections', 1);
  positiveInteger(config.drainTimeoutMs, 'drain timeout', 0);
  positiveInteger(config.queryRowLimit, 'query row limit', 1);
  positiveInteger(config.queryTimeoutMs, 'query timeout', 10);
  positiveInteger(config.queryConcurrency, 'query concurrency', 1, 64);
  positiveInteger(config.queryQueue, 'query queue', 0);
  positiveInteger(config.queryMemoryMb, 'query memory', 256);
  positiveInteger(config.queryMaxBytes, 'query max bytes', 1024);
  positiveInteger(config.sampleIntervalMs, 'sample interval', 100);
  positiveInteger(config.historySamples, 'history samples', 2);
  positiveInteger(config.unhealthyAfterMs, 'unhealthy-after time', 0);
  if (!config.token && !isLoopback(config.host)) {
    throw new ServiceConfigError(
      `refusing to listen on ${config.host} without a token: anyone who can reach it could write commands. ` +
        `Set ${TOKEN_ENV} (or pass --token), or listen on 127.0.0.1`,
    );
  }
  return config;
}

/**
 * The token from --token, else from the environment (unset or empty there: no token). A secret
 * file usually ends in a newline that `$(cat file)` or a mounted Secret keeps; no client can send
 * one in a header, so surrounding whitespace is trimmed. What is left must be one word of
 * printable ASCII (what a header carries byte for byte): an empty token, or one with whitespace,
 * control or non-ASCII characters inside, is refused here rather than answered 401 on every request.
 */
function apiToken(flag: string | null | undefined, env: NodeJS.ProcessEnv): string | null {
  const [raw, source] = flag !== undefined && flag !== null ? [flag, '--token'] : [env[TOKEN_ENV] || null, TOKEN_ENV];
  if (raw === null) return null;
  const token = raw.trim();
  if (token === '') throw new ServiceConfigError(`the API token (${source}) is empty${raw === '' ? '' : ' once surrounding whitespace is trimmed'}; set a token, or ${source === '--token' ? 'leave out --token' : `unset ${TOKEN_ENV}`} to run without one (loopback only)`);
  const odd = /[^\x21-\x7e]/.exec(token);
  if (odd) {
    const what = /\s/.test(odd[0]) ? 'whitespace' : /\p{Cc}/u.test(odd[0]) ? 'a control character' : 'a non-ASCII character';
    throw new ServiceConfigError(
      `the API token (${source}) has ${what} (${JSON.stringify(odd[0])}) at position ${odd.index + 1}: a token is one word of printable ASCII (was it read from a file with several lines?)`,
    );
  }
  return token;
}

/** 127.0.0.0/8, ::1 and localhost: addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare) || bare === '::ffff:127.0.0.1';
}

function positiveInteger(value: number, what: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ServiceConfigError(`${what} must be an integer from ${min} to ${max}, got ${value}`);
  }
}
