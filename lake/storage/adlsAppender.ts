import type { DataLakeFileClient } from '@azure/storage-file-datalake';
import { codeOf, statusOf } from './adlsErrors.js';
import type { Appender } from './lakeStorage.js';

/** One append request carries at most this much; the flush after them commits all at once. */
const APPEND_CHUNK_BYTES = 16 * 1024 * 1024;

/** Someone else changed the file since this appender last flushed it. */
export class AppendConflictError extends Error {
  readonly code = 'ECONFLICT';
  constructor(readonly path: string, where: string) {
    super(
      `${where}: ${path} was changed by another writer since this process last appended to it ` +
        '(its ETag moved on); refusing to append. Only one writer may append to a file: stop the other one, then reopen.',
    );
  }
}

/**
 * Durable appends to an ADLS file: stage the bytes at the current length, then flush to the new
 * length with If-Match: <the ETag of our last flush>. The flush is the commit: readers see the
 * whole append or none of it, and a flush refused with 412 means another writer moved the file.
 */
export class AdlsAppender implements Appender {
  constructor(
    private readonly client: DataLakeFileClient,
    private readonly path: string,
    private readonly location: string,
    public length: number,
    private etag: string,
    private readonly failure: (operation: string, error: unknown) => Error,
  ) {}

  async append(data: Buffer): Promise<void> {
    if (data.length === 0) return; // the service refuses an empty append
    const end = this.length + data.length;
    try {
      for (let at = 0; at < data.length; at += APPEND_CHUNK_BYTES) {
        const chunk = data.subarray(at, Math.min(data.length, at + APPEND_CHUNK_BYTES));
        await this.client.append(chunk, this.length + at, chunk.length);
      }
      const flushed = await this.client.flush(end, { conditions: { ifMatch: this.etag } });
      this.etag = flushed.etag!;
    } catch (error) {
      if (!isConflict(error)) throw this.failure('append to', error);
      if (!(await this.ourFlushLanded(data, end))) throw new AppendConflictError(this.path, this.location);
    }
    this.length = end;
  }

  /**
   * A conflict also comes when our own flush succeeded but its answer was lost: the SDK's retry
   * of the flush then meets the ETag that flush made (412), or the caller's retry of the append
   * meets the length it made (InvalidFlushPosition). It is ours if the file ends exactly where we
   * flushed and holds our bytes there; then adopt the new ETag and carry on.
   */
  private async ourFlushLanded(data: Buffer, end: number): Promise<boolean> {
    try {
      const props = await this.client.getProperties();
      if (props.contentLength !== end) return false;
      const stored = await this.client.readToBuffer(this.length, data.length, { conditions: { ifMatch: props.etag } });
      if (!stored.equals(data)) return false;
      this.etag = props.etag!;
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    // Nothing held open: every append was flushed before it returned.
  }
}

/** The file is not what this appender last made it: its ETag moved (412) or it is longer (400). */
function isConflict(error: unknown): boolean {
  return statusOf(error) === 412 || (statusOf(error) === 400 && codeOf(error) === 'InvalidFlushPosition');
}
