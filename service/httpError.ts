/**
 * An error that is the answer: its status code and machine-readable code go to the client as
 * `{"error": {"code", "message"}}`, the one error shape of every endpoint, with `headers` (such
 * as Retry-After) on the response.
 */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}
