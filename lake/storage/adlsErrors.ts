import { redact } from '../redact.js';

/**
 * How the storage SDKs report a failed call: `statusCode` and the service's error code (from
 * x-ms-error-code). DFS calls answer DFS codes (PathNotFound), the Blob calls the SDK makes for
 * reads and properties answer Blob codes (BlobNotFound), so both spellings are checked.
 */
export function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number } | null)?.statusCode;
}

export function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  // An answer to HEAD has no body, so the SDK leaves `code` unset: the header still says it.
  const header = (error as { response?: { headers?: { get?: (name: string) => string | undefined } } } | null)?.response?.headers?.get?.('x-ms-error-code');
  return typeof header === 'string' ? header : undefined;
}

const MISSING_FILESYSTEM = new Set(['FilesystemNotFound', 'ContainerNotFound']);

/** The path is absent (not: the whole filesystem is, which is a configuration error). */
export function isPathNotFound(error: unknown): boolean {
  return statusOf(error) === 404 && !MISSING_FILESYSTEM.has(codeOf(error) ?? '');
}

/**
 * The destination exists. Create and rename under If-None-Match: * answer 409 PathAlreadyExists
 * (Blob: BlobAlreadyExists); a 412 on a destination-only condition can only mean the same.
 */
export function isAlreadyExists(error: unknown): boolean {
  const status = statusOf(error);
  return status === 412 || (status === 409 && /AlreadyExists$/.test(codeOf(error) ?? ''));
}

/** An ADLS call failed: names the lake, the operation and the file; never carries a secret. */
export class AdlsError extends Error {
  constructor(
    message: string,
    readonly statusCode: number | undefined,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export function adlsFailure(location: string, operation: string, file: string, error: unknown, secrets: readonly string[]): Error {
  if (error instanceof AdlsError) return error;
  const status = statusOf(error);
  const code = codeOf(error);
  const detail = firstLine(error instanceof Error ? error.message : String(error));
  const what = MISSING_FILESYSTEM.has(code ?? '')
    ? `the filesystem does not exist (create it, or set createFilesystem)`
    : `${status ? `HTTP ${status}` : 'no answer'}${code ? ` ${code}` : ''}: ${detail}`;
  return new AdlsError(redact(`${location}: ${operation} ${file || '/'} failed: ${what}`, secrets), status, code);
}

function firstLine(text: string): string {
  return text.split('\n')[0].trim();
}
