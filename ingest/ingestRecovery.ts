import { logger } from '../lake/logger.js';
import type { Ingester } from './ingester.js';

/** How the writer comes back after a failed commit. */
export interface RecoveryPolicy {
  /** Wait before the first attempt, ms (default 500). */
  firstDelayMs?: number;
  /** Longest wait between attempts, ms (default 30 s); each failed attempt doubles the wait up to it. */
  maxDelayMs?: number;
  /** Down this long without recovering counts as unhealthy (default 5 min): a restart may help, or a person must. */
  unhealthyAfterMs?: number;
}

export const RECOVERY_DEFAULTS: Required<RecoveryPolicy> = { firstDelayMs: 500, maxDelayMs: 30_000, unhealthyAfterMs: 5 * 60_000 };

/** The log writer's state, for /readyz, /healthz and /status. */
export type WriterStatus =
  | { state: 'writing' }
  | {
      state: 'recovering';
      /** When the failed commit happened. */
      since: string;
      /** What failed first, and what the last attempt to come back said. */
      cause: string;
      lastError: string;
      /** Attempts to come back that failed so far. */
      attempts: number;
      nextAttemptAt: string;
      /** Down for longer than `unhealthyAfterMs`. */
      unhealthy: boolean;
    };

/**
 * Brings the ingester back by itself after a failed commit (a full disk, ADLS throttling that
 * outlasted the SDK's retries, a lost lease): `Ingester.recover()` with exponential backoff and a
 * little jitter, until it succeeds. Meanwhile the ingester refuses commands, and callers are told
 * when to retry. Nothing unacknowledged is kept: recovery trims what the failed commit may have
 * left past the committed head, and rebuilds the write model from what is durable.
 */
export class IngestRecovery {
  private readonly policy: Required<RecoveryPolicy>;
  private down: { since: number; cause: string; lastError: string; attempts: number; nextAttemptAt: number } | null = null;
  /** The last outage, kept after recovering: a failure before any commit succeeded again continues it. */
  private previous: { since: number; recoveredAt: number } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private attempt: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly ingester: Ingester,
    policy: RecoveryPolicy = {},
  ) {
    this.policy = { ...RECOVERY_DEFAULTS, ...policy };
  }

  /** A commit failed: start coming back (once; further failures while down change nothing). */
  start(error: Error): void {
    if (this.down || this.stopped) return;
    logger.error({ err: error }, 'the lake log could not be written; refusing commands and recovering with backoff');
    // Reopening may succeed while the cause persists (a disk still full): until a commit gets
    // through again, it is the same outage, and its age is what health is judged by.
    const continues = this.previous !== null && this.ingester.lastCommitAt <= this.previous.recoveredAt;
    this.down = { since: continues ? this.previous!.since : Date.now(), cause: error.message, lastError: error.message, attempts: 0, nextAttemptAt: 0 };
    this.schedule();
  }

  get status(): WriterStatus {
    if (!this.down) return { state: 'writing' };
    const { since, cause, lastError, attempts, nextAttemptAt } = this.down;
    return {
      state: 'recovering',
      since: new Date(since).toISOString(),
      cause,
      lastError,
      attempts,
      nextAttemptAt: new Date(nextAttemptAt).toISOString(),
      unhealthy: Date.now() - since > this.policy.unhealthyAfterMs,
    };
  }

  /** Whole seconds until the next attempt (at least 1): what Retry-After tells a client. */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(((this.down?.nextAttemptAt ?? 0) - Date.now()) / 1000));
  }

  /** Stops trying (the service is closing); waits for an attempt in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.attempt?.catch(() => undefined);
  }

  private schedule(): void {
    const down = this.down!;
    const backoff = Math.min(this.policy.maxDelayMs, this.policy.firstDelayMs * 2 ** down.attempts);
    const delay = backoff * (0.8 + Math.random() * 0.4); // jitter: replicas that failed together retry apart
    down.nextAttemptAt = Date.now() + delay;
    this.timer = setTimeout(() => {
      this.attempt = this.tryOnce().finally(() => (this.attempt = null));
    }, delay);
  }

  private async tryOnce(): Promise<void> {
    if (this.stopped || !this.down) return;
    const down = this.down;
    try {
      await this.ingester.recover();
      logger.warn({ failedAttempts: down.attempts, downMs: Date.now() - down.since }, 'the lake log writer recovered; taking commands again');
      this.previous = { since: down.since, recoveredAt: Date.now() };
      this.down = null;
    } catch (error) {
      down.attempts += 1;
      down.lastError = (error as Error).message;
      logger.warn({ err: error, attempts: down.attempts }, 'the lake log writer could not recover yet; trying again later');
      if (!this.stopped) this.schedule();
    }
  }
}
