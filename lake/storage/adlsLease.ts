import type { DataLakeFileClient } from '@azure/storage-file-datalake';
import { codeOf, isAlreadyExists, isPathNotFound, statusOf } from './adlsErrors.js';
import { LeaseTakenError, type LeaseInfo, type StorageLease } from './lakeStorage.js';

/**
 * A lease on an ADLS file (the SDK's DataLakeLeaseClient: Lease Blob on the blob endpoint), with
 * the holder recorded in the file's metadata (Set Blob Metadata under the lease id, one atomic
 * call, so a reader never sees half a holder). Every call repeats safely after a lost answer:
 * acquire proposes a fixed id (acquiring again with the holder's own id succeeds), renew and
 * metadata are idempotent, release ignores "no lease", and a repeated break finds it broken.
 */
export class AdlsLease implements StorageLease {
  constructor(
    private readonly file: DataLakeFileClient,
    readonly id: string,
    private readonly failure: (operation: string, error: unknown) => Error,
  ) {}

  async acquire(seconds: number, holder: Record<string, string>): Promise<void> {
    try {
      await this.acquireLease(seconds).catch(async (error: unknown) => {
        if (!isPathNotFound(error)) throw error;
        await this.createFile(); // the first lease ever taken on this name
        await this.acquireLease(seconds);
      });
    } catch (error) {
      if (isLeaseConflict(error)) throw new LeaseTakenError(`lease on ${this.file.name} is held by another holder (${codeOf(error)})`);
      throw this.failure('acquire a lease on', error);
    }
    try {
      await this.file.setMetadata(encodeHolder(holder), { conditions: { leaseId: this.id } });
    } catch (error) {
      // Broken or taken between our acquire and this write: we do not hold it.
      if (isLeaseConflict(error)) throw new LeaseTakenError(`lease on ${this.file.name} was taken while recording its holder (${codeOf(error)})`);
      throw this.failure('record the lease holder on', error);
    }
  }

  async renew(): Promise<void> {
    try {
      await this.file.getDataLakeLeaseClient(this.id).renewLease();
    } catch (error) {
      if (isLeaseConflict(error)) throw new LeaseTakenError(`lease on ${this.file.name} is no longer ours (${codeOf(error)})`);
      throw this.failure('renew the lease on', error);
    }
  }

  async release(): Promise<void> {
    await this.file.getDataLakeLeaseClient(this.id).releaseLease().catch(() => undefined);
  }

  async inspect(): Promise<LeaseInfo> {
    try {
      const props = await this.file.getProperties();
      return { state: props.leaseState ?? 'available', holder: decodeHolder(props.metadata), etag: props.etag ?? '' };
    } catch (error) {
      throw this.failure('inspect the lease on', error);
    }
  }

  async breakIfUnchanged(etag: string): Promise<boolean> {
    try {
      await this.file.getDataLakeLeaseClient(this.id).breakLease(0, { conditions: { ifMatch: etag } });
      return true;
    } catch (error) {
      if (statusOf(error) === 412 || isLeaseConflict(error)) return false;
      throw this.failure('break the lease on', error);
    }
  }

  private async acquireLease(seconds: number): Promise<void> {
    await this.file.getDataLakeLeaseClient(this.id).acquireLease(seconds);
  }

  /** The lease needs a file; creating it only if absent is safe to repeat (409 means it is there). */
  private async createFile(): Promise<void> {
    try {
      await this.file.create({ conditions: { ifNoneMatch: '*' } });
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
  }
}

/**
 * Another holder has it: Lease Blob answers 409 LeaseAlreadyPresent, LeaseIdMismatchWithLeaseOperation,
 * LeaseIsBrokenAndCannotBeRenewed, LeaseIsBreakingAndCannotBeAcquired...; a write under a lease
 * we lost answers 412 LeaseIdMismatch*, LeaseLost or LeaseNotPresent*.
 */
function isLeaseConflict(error: unknown): boolean {
  const status = statusOf(error);
  return (status === 409 || status === 412) && /^Lease/.test(codeOf(error) ?? '');
}

/** Metadata values travel as HTTP headers: ASCII only, so each value is URI-encoded. */
function encodeHolder(holder: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(holder).map(([k, v]) => [k, encodeURIComponent(v)]));
}

function decodeHolder(metadata: Record<string, string> | undefined): Record<string, string> | null {
  if (!metadata || Object.keys(metadata).length === 0) return null;
  try {
    return Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, decodeURIComponent(v)]));
  } catch {
    return null;
  }
}
