import { Transform } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from './httpError.js';

/**
 * Bounds the request body bytes the process holds at once, across all requests: each body
 * reserves its bytes from a shared budget (its Content-Length up front, or a chunked body as it
 * arrives) until its response is done. A request that would go over is answered 503 with
 * Retry-After and its connection closed, before the rest of its body is read, so many clients
 * each sending most of a large body and withholding the rest pin at most the budget, not
 * clients x body limit.
 */
export function limitBodiesInFlight(app: FastifyInstance, budget: number, bodyLimit: number): void {
  let inFlight = 0;
  const busy = () =>
    new HttpError(503, 'busy', `the server is receiving more request bodies than it holds at once (${budget} bytes, serve --body-budget); retry in a moment`, {
      'retry-after': '1',
      connection: 'close',
    });

  app.addHook('preParsing', async (request, reply, payload) => {
    if (!hasBody(request)) return payload;
    let reserved = 0;
    const reserve = (bytes: number) => {
      if (inFlight + bytes > budget) throw busy();
      inFlight += bytes;
      reserved += bytes;
    };
    reply.raw.once('close', () => {
      inFlight -= reserved;
      reserved = 0;
    });
    const declared = Number(request.headers['content-length']);
    // A declared length over the body limit is refused (413) by the parser before it reads any of it.
    if (Number.isSafeInteger(declared) && declared >= 0) {
      if (declared <= bodyLimit) reserve(declared);
      return payload;
    }
    return payload.pipe(
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          try {
            // Past the body limit the parser answers 413; the budget need not hold those bytes.
            reserve(Math.min(chunk.length, Math.max(0, bodyLimit - reserved)));
            done(null, chunk);
          } catch (error) {
            done(error as Error);
          }
        },
      }),
    );
  });
}

function hasBody(request: FastifyRequest): boolean {
  return request.headers['content-length'] !== undefined || request.headers['transfer-encoding'] !== undefined;
}
