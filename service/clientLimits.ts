import type { FastifyHttpOptions } from 'fastify';
import type { Server } from 'node:http';
import type { ServiceConfig } from './serviceConfig.js';

/**
 * Bounds on what one client can hold of the server by being slow or by being many: time to send
 * the headers, time to send the whole request, and connections open at once. Node enforces the
 * times itself (408 and the connection closed) but looks for late requests only every
 * `connectionsCheckingInterval`, 30 s by default, so a slowloris body outlived a 30 s bound by
 * up to that much (75 s+ were seen): check a few times per bound instead.
 */
export function clientLimitOptions(config: Pick<ServiceConfig, 'headerTimeoutMs' | 'requestTimeoutMs' | 'bodyLimit'>): FastifyHttpOptions<Server> {
  return {
    bodyLimit: config.bodyLimit,
    // Fastify copies its own requestTimeout onto the server after creating it (0, "none", by default).
    requestTimeout: config.requestTimeoutMs,
    http: {
      headersTimeout: config.headerTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(config.headerTimeoutMs / 4))),
    },
  };
}

/** Connections beyond `max` are closed by Node as they arrive, before a byte is read. */
export function limitConnections(server: Server, max: number): void {
  server.maxConnections = max;
}
