/**
 * A loopback HTTP proxy in front of the DFS test server that fails requests the way the real
 * service and the network do, so the product's handling of them can be tested with the real SDK
 * (and its real retry policy) in between. A test fixture only.
 *
 * Faults, each for the requests a rule matches (all of them, or the first `times`):
 * - `busy`:    503 ServerBusy without forwarding (how ADLS throttles: "The server is currently
 *              unable to receive requests. Please retry your request.");
 * - `timeout`: 500 OperationTimedOut without forwarding ("The operation could not be completed
 *              within the permitted time.");
 * - `apply-then-500`:  the server applies the request, the client gets 500 InternalError instead
 *              of its answer (a lost response: the SDK retries a 500, and meets the applied state);
 * - `apply-then-drop`: the server applies it, then the connection is closed before any answer;
 * - `drop`:    the connection is closed without forwarding anything;
 * - `firewall`: 403 AuthorizationFailure ("This request is not authorized to perform this
 *              operation."), what a storage account's network rules answer a blocked client.
 * Error bodies are in the service's shape for the call (JSON for DFS, XML for Blob: dfsServer).
 *
 * It also works as a forward proxy (HTTP_PROXY): an absolute-form request line
 * (`GET http://acct.blob.core.windows.net/fs/x`) is forwarded to the DFS server like any other,
 * and a rule can match on the host it named, to make one endpoint unreachable.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendError } from './dfsServer.js';
import { StorageError } from './dfsStore.js';

export type Fault = 'busy' | 'timeout' | 'apply-then-500' | 'apply-then-drop' | 'drop' | 'firewall';

/** What a rule sees of a request: its method, path and query as sent, and the host it was for. */
export interface ProxiedRequest {
  method: string;
  url: string;
  host: string;
}

export interface FaultRule {
  match: (request: ProxiedRequest) => boolean;
  fault: Fault;
  /** Fail only the first `times` matching requests (default: every one until removed). */
  times?: number;
}

export interface InjectedFault {
  /** Requests this rule has failed so far. */
  readonly hits: number;
  remove(): void;
}

export interface FaultProxy {
  port: number;
  /** `url` (an account URL of the DFS server) with the proxy's port instead. */
  via(url: string): string;
  inject(rule: FaultRule): InjectedFault;
  /** Removes every rule: everything is forwarded again. */
  heal(): void;
  /** Every request seen, in order: `METHOD url -> fault|forwarded`. */
  log: string[];
  close(): Promise<void>;
}

interface ActiveRule extends FaultRule {
  hits: number;
}

export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  let rules: ActiveRule[] = [];
  const log: string[] = [];

  const server: Server = createServer((req, res) => {
    const absolute = /^https?:\/\//i.test(req.url ?? '') ? new URL(req.url!) : null;
    const seen: ProxiedRequest = {
      method: req.method ?? 'GET',
      url: absolute ? `${absolute.pathname}${absolute.search}` : (req.url ?? '/'),
      host: absolute?.host ?? req.headers.host ?? '',
    };
    const rule = rules.find((r) => (r.times === undefined || r.hits < r.times) && r.match(seen));
    if (rule) rule.hits += 1;
    log.push(`${seen.method} ${seen.host}${seen.url} -> ${rule?.fault ?? 'forwarded'}`);
    readBody(req).then((body) => handle(req, res, seen, body, rule?.fault), () => req.socket.destroy());
  });

  const handle = (req: IncomingMessage, res: ServerResponse, seen: ProxiedRequest, body: Buffer, fault: Fault | undefined) => {
    switch (fault) {
      case 'busy':
        return sendError(req, res, new StorageError(503, 'ServerBusy', 'The server is currently unable to receive requests. Please retry your request.'));
      case 'timeout':
        return sendError(req, res, new StorageError(500, 'OperationTimedOut', 'The operation could not be completed within the permitted time.'));
      case 'firewall':
        return sendError(req, res, new StorageError(403, 'AuthorizationFailure', 'This request is not authorized to perform this operation.'));
      case 'drop':
        return req.socket.destroy();
      default:
        return forward(req, seen, body, (status, headers, answer) => {
          if (fault === 'apply-then-drop') return req.socket.destroy();
          if (fault === 'apply-then-500') {
            return sendError(req, res, new StorageError(500, 'InternalError', 'The server encountered an internal error. Please retry the request.'));
          }
          res.writeHead(status, headers);
          res.end(answer);
        }, () => req.socket.destroy());
    }
  };

  const forward = (
    req: IncomingMessage,
    seen: ProxiedRequest,
    body: Buffer,
    answer: (status: number, headers: IncomingMessage['headers'], body: Buffer) => void,
    fail: () => void,
  ) => {
    const headers = { ...req.headers };
    delete headers['proxy-connection'];
    const upstream = request({ host: '127.0.0.1', port: targetPort, method: req.method, path: seen.url, headers }, (response) => {
      readBody(response).then((data) => answer(response.statusCode ?? 502, response.headers, data), fail);
    });
    upstream.on('error', fail);
    upstream.end(body);
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    via: (url) => {
      const parsed = new URL(url);
      parsed.port = String(port);
      return parsed.toString().replace(/\/$/, '');
    },
    inject(rule) {
      const active: ActiveRule = { ...rule, hits: 0 };
      rules.push(active);
      return {
        get hits() {
          return active.hits;
        },
        remove: () => {
          rules = rules.filter((r) => r !== active);
        },
      };
    },
    heal: () => {
      rules = [];
    },
    log,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}
