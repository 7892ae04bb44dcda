import type { FastifyInstance } from 'fastify';
import { logger } from '../lake/logger.js';

/**
 * Lets a closing server finish the requests it has and then go, without waiting on connections
 * that carry none, and without waiting longer than `drainTimeoutMs` on requests that do. Node's
 * close waits for every connection to end and closes only those idle at that moment; a
 * keep-alive connection busy then, or one a client opened without sending a request yet, would
 * otherwise hold the stop for the client's whim (seconds, up to the keep-alive timeout). So while
 * closing, answers close their connection, and once no request is in flight the remaining
 * connections are closed. A request still unfinished at the drain timeout (a client trickling
 * its body kept a stop waiting 35 s+) is cut off with its connection: nothing it sent is
 * acknowledged, so its client retries with the same command ids.
 */
export function drainOnClose(app: FastifyInstance, drainTimeoutMs: number, beforeDrain: () => void): void {
  let inflight = 0;
  let draining = false;
  app.server.on('request', (_request, response) => {
    inflight += 1;
    response.once('close', () => (inflight -= 1));
  });
  app.addHook('onSend', async (_request, reply) => {
    if (draining) reply.header('connection', 'close');
  });
  app.addHook('preClose', async () => {
    draining = true;
    beforeDrain();
    const sweep = setInterval(() => {
      if (inflight === 0) app.server.closeAllConnections();
    }, 50);
    const cutOff = setTimeout(() => {
      logger.warn({ requests: inflight, drainTimeoutMs }, 'cutting off requests still unfinished at the drain timeout');
      app.server.closeAllConnections();
    }, drainTimeoutMs);
    app.server.once('close', () => {
      clearInterval(sweep);
      clearTimeout(cutOff);
    });
  });
}
