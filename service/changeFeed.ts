import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ReadModelChange } from './liveProjections.js';

const HEARTBEAT_MS = 15_000;

/**
 * Server-sent events telling subscribers that read models changed: one `change` event per job
 * after the views database already shows the change, so a client may query as soon as it hears.
 * Notifications are hints, not data: a client that missed some (reconnect, slow network) just
 * queries again; there is no replay by Last-Event-ID.
 */
export class ChangeFeed {
  private readonly clients = new Set<ServerResponse>();
  private nextId = 1;
  private readonly heartbeat: NodeJS.Timeout;

  constructor() {
    // A comment line now and then keeps proxies and load balancers from closing an idle stream.
    this.heartbeat = setInterval(() => this.write(': keepalive\n\n'), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  get subscribers(): number {
    return this.clients.size;
  }

  /** Takes over the response and keeps it open as an event stream. */
  subscribe(request: FastifyRequest, reply: FastifyReply, hello: object): void {
    reply.hijack();
    const response = reply.raw;
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    response.write(`retry: 2000\nevent: ready\ndata: ${JSON.stringify(hello)}\n\n`);
    this.clients.add(response);
    request.raw.on('close', () => this.clients.delete(response));
  }

  publish(changes: ReadModelChange[]): void {
    for (const change of changes) this.write(`id: ${this.nextId++}\nevent: change\ndata: ${JSON.stringify(change)}\n\n`);
  }

  /** Ends every stream, so that closing the server does not wait for subscribers to leave. */
  close(): void {
    clearInterval(this.heartbeat);
    for (const client of this.clients) client.end();
    this.clients.clear();
  }

  private write(text: string): void {
    for (const client of this.clients) client.write(text);
  }
}
