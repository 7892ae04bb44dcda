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
  /** Default and largest row count a POST /query answers with. */
  queryRowLimit: number;
  /** A query still running after this long (ms) is interrupted. */
  queryTimeoutMs: number;
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
  queryRowLimit: 10_000,
  queryTimeoutMs: 30_000,
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
  if (!config.token && env[TOKEN_ENV]) config.token = env[TOKEN_ENV]!;
  if (config.token === '') config.token = null;
  positiveInteger(config.port, 'port', 0, 65_535);
  positiveInteger(config.liveIntervalMs, 'interval', 10);
  positiveInteger(config.maxBatch, 'max batch', 1);
  positiveInteger(config.bodyLimit, 'body limit', 64);
  positiveInteger(config.queryRowLimit, 'query row limit', 1);
  positiveInteger(config.queryTimeoutMs, 'query timeout', 10);
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
