/**
 * Leases on paths, as the storage service keeps them (Blob REST "Lease Blob", with its remarks
 * table "Outcomes of lease operations on blobs by lease state"; ADLS Gen2 "Path - Lease"; error
 * codes and messages from the Blob and Data Lake error-code lists; Azurite 3.35's lease state
 * classes in node_modules as a second reading). A lease is a timed write lock on one path:
 * while it is active, every write or delete must carry its id.
 *
 * States: available -> leased (acquire, 15..60 s or infinite) -> expired (the duration passed
 * without a renew) | breaking (break with a period) -> broken (the period passed) -> available
 * (release). Expired and broken leases may be acquired by anyone; an expired lease may be renewed
 * with its own id as long as nobody leased the path since. Time comes from the store's clock, so
 * a test can let a lease expire without waiting.
 */
import { randomUUID } from 'node:crypto';
import { StorageError } from './dfsStore.js';

export type LeaseState = 'available' | 'leased' | 'expired' | 'breaking' | 'broken';

/** A path's lease record. Its effective state also depends on the clock (see `state`). */
export interface LeaseRecord {
  id?: string;
  state: 'available' | 'leased' | 'breaking' | 'broken';
  /** Seconds, or -1 for an infinite lease. */
  duration?: number;
  expiresAt?: number;
  breaksAt?: number;
}

export function newLease(): LeaseRecord {
  return { state: 'available' };
}

/** The state now: a fixed lease past its end is expired, a breaking one past its break time is broken. */
export function leaseState(lease: LeaseRecord, now: number): LeaseState {
  if (lease.state === 'leased' && lease.expiresAt !== undefined && now >= lease.expiresAt) return 'expired';
  if (lease.state === 'breaking' && lease.breaksAt !== undefined && now >= lease.breaksAt) return 'broken';
  return lease.state;
}

/** Response headers that describe a lease (Get Blob Properties, Path - Get Properties). */
export function leaseHeaders(lease: LeaseRecord, now: number): Record<string, string> {
  const state = leaseState(lease, now);
  const locked = state === 'leased' || state === 'breaking';
  return {
    'x-ms-lease-state': state,
    'x-ms-lease-status': locked ? 'locked' : 'unlocked',
    ...(state === 'leased' ? { 'x-ms-lease-duration': lease.duration === -1 ? 'infinite' : 'fixed' } : {}),
  };
}

const err = {
  invalidHeader: () => new StorageError(400, 'InvalidHeaderValue', 'The value for one of the HTTP headers is not in the correct format.'),
  alreadyPresent: () => new StorageError(409, 'LeaseAlreadyPresent', 'There is already a lease present.'),
  breakingCannotAcquire: () => new StorageError(409, 'LeaseIsBreakingAndCannotBeAcquired',
    'The lease ID matched, but the lease is currently in breaking state and cannot be acquired until it is broken.'),
  breakingCannotChange: () => new StorageError(409, 'LeaseIsBreakingAndCannotBeChanged',
    'The lease ID matched, but the lease is currently in breaking state and cannot be changed.'),
  brokenCannotRenew: () => new StorageError(409, 'LeaseIsBrokenAndCannotBeRenewed',
    'The lease ID matched, but the lease has been broken explicitly and cannot be renewed.'),
  mismatchWithLeaseOperation: () => new StorageError(409, 'LeaseIdMismatchWithLeaseOperation',
    'The lease ID specified did not match the lease ID for the resource with the specified lease operation.',
    { code: 'LeaseIdMismatchWithLeaseOperation', message: 'The lease ID specified did not match the lease ID for the blob.' }),
  notPresentWithLeaseOperation: () => new StorageError(409, 'LeaseNotPresentWithLeaseOperation',
    'The lease ID is not present with the specified lease operation.',
    { code: 'LeaseNotPresentWithLeaseOperation', message: 'There is currently no lease on the blob.' }),
  // Writes (and deletes) to a path whose lease state does not fit the request:
  idMissing: () => new StorageError(412, 'LeaseIdMissing', 'There is currently a lease on the resource and no lease ID was specified in the request.',
    { code: 'LeaseIdMissing', message: 'There is currently a lease on the blob and no lease ID was specified in the request.' }),
  idMismatch: () => new StorageError(412, 'LeaseIdMismatch', 'The lease ID specified did not match the lease ID for the resource.',
    { code: 'LeaseIdMismatchWithBlobOperation', message: 'The lease ID specified did not match the lease ID for the blob.' }),
  lost: () => new StorageError(412, 'LeaseLost', 'A lease ID was specified, but the lease for the resource has expired.',
    { code: 'LeaseLost', message: 'A lease ID was specified, but the lease for the blob has expired.' }),
  notPresent: () => new StorageError(412, 'LeaseNotPresent', 'There is currently no lease on the resource.',
    { code: 'LeaseNotPresentWithBlobOperation', message: 'There is currently no lease on the blob.' }),
};

/**
 * A write or delete may proceed: an active lease needs its id (412 LeaseIdMissing / mismatch),
 * and an id given for a path without an active lease is refused too (412 LeaseLost / LeaseNotPresent).
 */
export function checkWriteLease(lease: LeaseRecord, leaseId: string | undefined, now: number): void {
  const state = leaseState(lease, now);
  const active = state === 'leased' || state === 'breaking';
  if (active && !leaseId) throw err.idMissing();
  if (active && !sameId(leaseId!, lease.id!)) throw err.idMismatch();
  if (!active && leaseId) throw state === 'available' ? err.notPresent() : err.lost();
}

/** What a Lease Blob request asks (from x-ms-lease-action and its companion headers). */
export interface LeaseRequest {
  action: string | undefined;
  leaseId?: string;
  proposedLeaseId?: string;
  duration?: string;
  breakPeriod?: string;
}

/** Applies a lease action; returns the response headers (the status is the caller's: 201 acquire, 202 break, else 200). */
export function applyLeaseAction(lease: LeaseRecord, request: LeaseRequest, now: number): Record<string, string> {
  const state = leaseState(lease, now);
  switch (request.action) {
    case 'acquire': {
      const duration = leaseDuration(request.duration);
      const id = request.proposedLeaseId ?? randomUUID();
      if (state === 'leased' && !sameId(id, lease.id!)) throw err.alreadyPresent();
      if (state === 'breaking') throw err.breakingCannotAcquire();
      setLeased(lease, id, duration, now);
      return { 'x-ms-lease-id': id };
    }
    case 'renew': {
      const id = required(request.leaseId);
      if (state === 'available' || !sameId(id, lease.id!)) throw err.mismatchWithLeaseOperation();
      if (state === 'breaking' || state === 'broken') throw err.brokenCannotRenew();
      setLeased(lease, lease.id!, lease.duration!, now); // leased or expired-and-not-leased-since
      return { 'x-ms-lease-id': lease.id! };
    }
    case 'change': {
      const id = required(request.leaseId);
      const proposed = required(request.proposedLeaseId);
      if (state === 'breaking') throw err.breakingCannotChange();
      if (state !== 'leased') throw err.notPresentWithLeaseOperation();
      if (!sameId(id, lease.id!) && !sameId(proposed, lease.id!)) throw err.mismatchWithLeaseOperation();
      lease.id = proposed;
      return { 'x-ms-lease-id': proposed };
    }
    case 'release': {
      const id = required(request.leaseId);
      if (state === 'available' || !sameId(id, lease.id!)) throw err.mismatchWithLeaseOperation();
      Object.assign(lease, { id: undefined, state: 'available', duration: undefined, expiresAt: undefined, breaksAt: undefined });
      return {};
    }
    case 'break': {
      if (state === 'available') throw err.notPresentWithLeaseOperation();
      const period = request.breakPeriod === undefined ? undefined : integerIn(request.breakPeriod, 0, 60);
      if (state === 'expired' || state === 'broken') return setBroken(lease);
      // Leased or breaking: break now, after `period`, or (no period) when a fixed lease would end.
      const ends = state === 'breaking' ? lease.breaksAt! : lease.duration === -1 ? Infinity : lease.expiresAt!;
      const at = Math.min(ends, period === undefined ? (lease.duration === -1 && state === 'leased' ? now : ends) : now + period * 1000);
      if (at <= now) return setBroken(lease);
      Object.assign(lease, { state: 'breaking', breaksAt: at, expiresAt: undefined });
      return { 'x-ms-lease-time': String(Math.ceil((at - now) / 1000)) };
    }
    default:
      throw err.invalidHeader();
  }
}

function setLeased(lease: LeaseRecord, id: string, duration: number, now: number): void {
  Object.assign(lease, { id, state: 'leased', duration, expiresAt: duration === -1 ? undefined : now + duration * 1000, breaksAt: undefined });
}

function setBroken(lease: LeaseRecord): Record<string, string> {
  Object.assign(lease, { state: 'broken', expiresAt: undefined, breaksAt: undefined });
  return { 'x-ms-lease-time': '0' };
}

/** 15..60 seconds, or -1 for infinite; anything else is InvalidHeaderValue. */
function leaseDuration(value: string | undefined): number {
  const duration = integerIn(required(value), -1, 60);
  if (duration !== -1 && duration < 15) throw err.invalidHeader();
  return duration;
}

function integerIn(value: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(value)) throw err.invalidHeader();
  const n = Number(value);
  if (n < min || n > max) throw err.invalidHeader();
  return n;
}

function required(value: string | undefined): string {
  if (!value) throw new StorageError(400, 'MissingRequiredHeader', "An HTTP header that's mandatory for this request is not specified.");
  return value;
}

/** Lease ids are GUIDs: compared without regard to case. */
function sameId(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
