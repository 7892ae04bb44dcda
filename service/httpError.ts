/**
 * An error that is the answer: its status code and machine-readable code go to the client as
 * `{"error": {"code", "message"}}`, the one error shape of every endpoint.
 */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
