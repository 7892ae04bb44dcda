import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { logger } from './logger.js';
import { locate } from './storage/locations.js';
import { LeaseTakenError, type StorageLease } from './storage/lakeStorage.js';
import { isGoneFromThisHost } from './goneProcess.js';

/** How long a lease lasts and how often it is renewed. */
export interface LeaseTiming {
  /** Seconds (15-60, ADLS's limits for a finite lease). Default 60. */
  seconds?: number;
  /** Renewal interval in ms. Default a third of the duration, so two renewals may fail before it runs out. */
  renewEveryMs?: number;
}

export const DEFAULT_LEASE_SECONDS = 60;

/**
 * The local clock may run faster than the service's: a lease is counted as ours only until this
 * share of its duration has passed since the renewal that was *sent* (the service starts the new
 * duration when it receives it, later). 10% covers any sane clock drift over a minute.
 */
const SAFETY_SHARE = 0.1;

/** The holder as a lease file records it, and as a refusal names it. */
export interface LeaseHolder {
  pid: number;
  host: string;
  purpose: string;
  since: string;
}

/** A lease we held was taken over, broken, or not renewed in time: stop writing. */
export class LeaseLostError extends Error {
  readonly code = 'ELEASELOST';
}

/**
 * A lease this process holds on a file of a shared lake, renewed in the background until
 * released. Holding it is what makes this process the only writer of what it guards across
 * machines; it is checked before every write that must be exclusive (`ensureHeld`) and after it
 * (`assertHeld`): a write that finished while the lease was still ours by the conservative local
 * count finished before the service could hand the lease to anyone else.
 */
export class HeldLease {
  private validUntil: number;
  private lost: LeaseLostError | null = null;
  private timer: NodeJS.Timeout | null = null;
  private renewing: Promise<void> | null = null;
  private released = false;
  /** The last renewal failed without an answer we could read: confirm before the next exclusive write. */
  private renewalFailed = false;

  private constructor(
    readonly location: string,
    private readonly lease: StorageLease,
    private readonly purpose: string,
    private readonly seconds: number,
    private readonly renewEveryMs: number,
    acquiredAt: number,
  ) {
    this.validUntil = this.countFrom(acquiredAt);
    this.schedule();
  }

  /**
   * Takes the lease on `location`, or says who holds it. A holder on this host whose process is
   * gone is broken at once (conditionally: only if no new holder recorded itself since we looked);
   * a holder elsewhere keeps it until it releases or stops renewing and the duration runs out.
   * Returns null where the storage has no leases (a local lake: file locks suffice).
   */
  static async take(location: string, purpose: string, timing: LeaseTiming = {}): Promise<HeldLease | { heldBy: LeaseHolder | null; seconds: number } | null> {
    const { storage, path } = locate(location);
    if (!storage.lease) return null;
    const seconds = timing.seconds ?? DEFAULT_LEASE_SECONDS;
    const renewEveryMs = timing.renewEveryMs ?? (seconds * 1000) / 3;
    const lease = storage.lease(path, randomUUID());
    const me: LeaseHolder = { pid: process.pid, host: os.hostname(), purpose, since: new Date().toISOString() };
    for (let attempt = 0; attempt < 5; attempt++) {
      const started = Date.now();
      try {
        await lease.acquire(seconds, { pid: String(me.pid), host: me.host, purpose: me.purpose, since: me.since, leaseseconds: String(seconds) });
        return new HeldLease(location, lease, purpose, seconds, renewEveryMs, started);
      } catch (error) {
        if (!(error instanceof LeaseTakenError)) throw error;
      }
      const info = await lease.inspect();
      if (info.state !== 'leased' && info.state !== 'breaking') continue; // freed meanwhile
      const holder = holderOf(info.holder);
      if (holder && isGoneFromThisHost(holder) && (await lease.breakIfUnchanged(info.etag))) {
        logger.warn({ lease: location, holder }, 'broke a lake lease left by a process of this host that is gone');
        continue;
      }
      return { heldBy: holder, seconds: Number(info.holder?.leaseseconds ?? seconds) };
    }
    throw new Error(`could not take the lease ${location}: too much contention`);
  }

  /**
   * Throws LeaseLostError unless the lease is ours now. Renews first when a renewal is due, or
   * when the last one failed (throttled, unreachable): then the lease may have run out and been
   * taken, and only an answer from the service says it is still ours.
   */
  async ensureHeld(): Promise<void> {
    if (!this.lost && (this.renewalFailed || this.validUntil - Date.now() < this.renewEveryMs)) await this.renewNow();
    if (this.renewalFailed && !this.lost) {
      throw new LeaseLostError(`${this.purpose}: the lease ${this.location} could not be renewed (the lake did not answer); nothing more is written until it is`);
    }
    this.assertHeld();
  }

  /** Throws LeaseLostError unless the lease is still ours by the local (conservative) count. */
  assertHeld(): void {
    if (this.lost) throw this.lost;
    if (Date.now() >= this.validUntil) {
      throw new LeaseLostError(
        `${this.purpose}: the lease ${this.location} could not be renewed in time (it may have run out); ` +
          'nothing more is written until it is renewed or taken again',
      );
    }
  }

  async release(): Promise<void> {
    this.released = true;
    if (this.timer) clearTimeout(this.timer);
    await this.renewing?.catch(() => undefined);
    await this.lease.release();
  }

  private schedule(): void {
    if (this.released || this.lost) return;
    this.timer = setTimeout(() => void this.renewNow(), this.renewEveryMs);
    this.timer.unref(); // a lease alone never keeps the process alive
  }

  private renewNow(): Promise<void> {
    this.renewing ??= this.renewOnce().finally(() => {
      this.renewing = null;
      if (this.timer) clearTimeout(this.timer);
      this.schedule();
    });
    return this.renewing;
  }

  private async renewOnce(): Promise<void> {
    if (this.released || this.lost) return;
    const started = Date.now();
    try {
      await this.lease.renew();
      this.validUntil = this.countFrom(started);
      this.renewalFailed = false;
    } catch (error) {
      this.renewalFailed = true;
      if (error instanceof LeaseTakenError) {
        this.lost = new LeaseLostError(`${this.purpose}: the lease ${this.location} was taken over or broken by another process; this one stops writing`);
        logger.error({ lease: this.location }, this.lost.message);
      } else {
        // Throttled or unreachable: keep trying; assertHeld refuses writes once the count runs out.
        logger.warn({ lease: this.location, err: error }, 'could not renew a lake lease; retrying');
      }
    }
  }

  private countFrom(sentAt: number): number {
    return sentAt + this.seconds * 1000 * (1 - SAFETY_SHARE);
  }
}

function holderOf(recorded: Record<string, string> | null): LeaseHolder | null {
  if (!recorded?.pid || !recorded.host) return null;
  return { pid: Number(recorded.pid), host: recorded.host, purpose: recorded.purpose ?? 'unknown', since: recorded.since ?? 'unknown' };
}

