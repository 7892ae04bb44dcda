/**
 * ADLS Gen2 test server: a loopback HTTP server speaking the subset of the Data Lake Storage
 * Gen2 (DFS) and Blob REST APIs that the REAL `@azure/storage-file-datalake` SDK uses against
 * an account URL `http://127.0.0.1:PORT/devstoreaccount1` with a StorageSharedKeyCredential.
 * (For an IP host the SDK sends its DFS and Blob calls to the same host and port, so both
 * APIs are served here; Azurite answers the DFS calls with 400.) A test fixture only: the
 * product never imports it. Data lives in memory (dfsStore.ts).
 *
 * Served (path-style URLs: /{account}/{filesystem}/{path}):
 * - filesystem: PUT/DELETE/GET/HEAD `?restype=container` (Blob: create, delete, properties,
 *   which the SDK's create/delete/exists use) and PUT/DELETE/HEAD `?resource=filesystem` (DFS);
 * - GET `?resource=filesystem&recursive=&directory=&maxResults=&continuation=`: Path - List,
 *   JSON `{"paths":[...]}` with `x-ms-continuation` when there is more;
 * - PUT `?resource=file|directory`: Path - Create, with If-None-Match: * (409 PathAlreadyExists),
 *   If-Match and the other conditions, `x-ms-properties`, `x-ms-content-type`;
 * - PUT with `x-ms-rename-source: /{filesystem}/{path}`: rename (mode=legacy), with conditions
 *   on the destination and `x-ms-source-if-*` on the source;
 * - PATCH `?action=append&position=N[&flush=true]`: staged bytes; PATCH `?action=flush&position=N`
 *   (`retainUncommittedData`, conditions, `x-ms-content-type`): 400 InvalidFlushPosition unless
 *   the staged bytes continue the file contiguously to exactly N;
 * - DELETE `[?recursive=true|false]`: a file, an empty directory, or a tree (409 DirectoryNotEmpty);
 * - GET (Range or x-ms-range: 206 with Content-Range; 416 InvalidRange past the end) and HEAD:
 *   content and properties (ETag, Last-Modified, Content-Length, x-ms-resource-type,
 *   x-ms-blob-type, x-ms-meta-*), with If-Match (412) and If-None-Match (304);
 * - PUT with `x-ms-blob-type: BlockBlob`: Put Blob (single-shot upload from the Blob SDK);
 * - PUT `?comp=lease` (Lease Blob: acquire, renew, change, release, break; dfsLeases.ts) and
 *   PUT `?comp=metadata` (Set Blob Metadata); every write and delete honours an active lease
 *   (`x-ms-lease-id`, `x-ms-source-lease-id` for a rename's source), HEAD reports its state.
 * Errors are the service's: JSON `{"error":{"code","message"}}` for DFS calls, XML
 * `<Error><Code/><Message/></Error>` for Blob calls, no body for HEAD, always `x-ms-error-code`.
 * Authorization must be present: `SharedKey {account}:{signature}` is verified against the
 * account key as the service does (sharedKey.ts; 403 AuthenticationFailed with the string the
 * server signed), a Bearer token or a SAS `sig` is accepted as is. Not served: blob listing,
 * block staging (Put Block / Put Block List), ACLs, setProperties, soft delete, SAS validation.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { devAccountKey } from './azurite.js';
import { applyLeaseAction, leaseHeaders } from './dfsLeases.js';
import { DfsStore, StorageError, check, type Conditions, type PathEntry } from './dfsStore.js';
import { stringToSign, verifySharedKey } from './sharedKey.js';

export interface DfsServer {
  /** The account URL to give the SDK: `http://127.0.0.1:PORT/{account}`. */
  url: string;
  port: number;
  accountName: string;
  /** The in-memory state, for assertions. */
  store: DfsStore;
  /** Every request served, in order: `METHOD /path?query -> status`. */
  requests: string[];
  close(): Promise<void>;
}

export interface DfsServerOptions {
  accountName?: string;
  /** The account key SharedKey signatures are verified with (base64; default: the emulator's well-known key). */
  accountKey?: string;
}

export async function startDfsServer(options: DfsServerOptions = {}): Promise<DfsServer> {
  const accountName = options.accountName ?? 'devstoreaccount1';
  const accountKey = options.accountKey ?? devAccountKey;
  const store = new DfsStore();
  const entryHeaders = (entry: PathEntry) => ({ ...pathHeaders(entry), ...leaseHeaders(entry.lease, store.now()) });
  const requests: string[] = [];
  const server = createServer((req, res) => {
    readBody(req)
      .then((body) => serve(req, res, body))
      .catch((err: unknown) => sendError(req, res, err))
      .finally(() => requests.push(`${req.method} ${req.url} -> ${res.statusCode}`));
  });

  const serve = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const [fsName = '', ...rest] = withoutAccount(url.pathname, accountName);
    const path = rest.join('/');
    const q = url.searchParams;
    authorize(req, url, accountName, accountKey, store.now());
    const method = req.method ?? 'GET';
    const conditions = conditionsOf(req, '');

    if (!fsName) throw unsupported(method, url);
    if (!path) {
      const fsApi = q.get('restype') === 'container' || q.get('resource') === 'filesystem';
      if (!fsApi || q.has('comp')) throw unsupported(method, url);
      if (method === 'PUT') return send(res, 201, fsHeaders(store.createFileSystem(fsName)));
      if (method === 'DELETE') {
        store.deleteFileSystem(fsName, conditions);
        return send(res, 202);
      }
      if (method === 'GET' && q.get('resource') === 'filesystem') return listPaths(res, fsName, q);
      if (method === 'GET' || method === 'HEAD') {
        return send(res, 200, { ...fsHeaders(store.fileSystem(fsName)), 'x-ms-namespace-enabled': 'true' });
      }
      throw unsupported(method, url);
    }

    if (method === 'PUT' && q.get('comp') === 'lease') {
      const entry = store.path(fsName, path);
      check(entry, conditions);
      const action = header(req, 'x-ms-lease-action');
      const result = applyLeaseAction(entry.lease, {
        action,
        leaseId: header(req, 'x-ms-lease-id'),
        proposedLeaseId: header(req, 'x-ms-proposed-lease-id'),
        duration: header(req, 'x-ms-lease-duration'),
        breakPeriod: header(req, 'x-ms-lease-break-period'),
      }, store.now());
      const status = action === 'acquire' ? 201 : action === 'break' ? 202 : 200;
      // A lease action does not modify the path: the ETag and Last-Modified stay.
      return send(res, status, { ETag: entry.etag, 'Last-Modified': entry.lastModified.toUTCString(), ...result });
    }
    if (method === 'PUT' && q.get('comp') === 'metadata') {
      const entry = store.setMetadata(fsName, path, metadataHeaders(req), conditions);
      return send(res, 200, { ETag: entry.etag, 'Last-Modified': entry.lastModified.toUTCString(), 'x-ms-request-server-encrypted': 'true' });
    }
    if (method === 'PUT' && req.headers['x-ms-rename-source']) {
      const source = new URL(String(req.headers['x-ms-rename-source']), 'http://127.0.0.1').pathname;
      const [sourceFs = '', ...sourcePath] = withoutAccount(source, accountName);
      const moved = store.rename({ fs: sourceFs, path: sourcePath.join('/') }, { fs: fsName, path }, conditions, conditionsOf(req, 'x-ms-source-'));
      return send(res, 201, entryHeaders(moved));
    }
    if (method === 'PUT' && (q.get('resource') === 'file' || q.get('resource') === 'directory')) {
      const entry = store.create(fsName, path, q.get('resource') as 'file' | 'directory', conditions, {
        contentType: header(req, 'x-ms-content-type'),
        metadata: parseProperties(header(req, 'x-ms-properties')),
      });
      return send(res, 201, { ...entryHeaders(entry), 'x-ms-request-server-encrypted': 'true' });
    }
    if (method === 'PUT' && header(req, 'x-ms-blob-type') === 'BlockBlob' && !q.has('comp')) {
      const entry = store.putBlob(fsName, path, body, conditions, {
        contentType: header(req, 'x-ms-blob-content-type') ?? header(req, 'content-type'),
        metadata: metadataHeaders(req),
      });
      return send(res, 201, { ...entryHeaders(entry), 'x-ms-request-server-encrypted': 'true' });
    }
    if (method === 'PATCH' && q.get('action') === 'append') {
      const position = integer(q, 'position');
      store.append(fsName, path, position, body, header(req, 'x-ms-lease-id'));
      const extra = q.get('flush') === 'true'
        ? entryHeaders(store.flush(fsName, path, position + body.length, conditions))
        : {};
      return send(res, 202, { ...extra, 'x-ms-request-server-encrypted': 'true' });
    }
    if (method === 'PATCH' && q.get('action') === 'flush') {
      const entry = store.flush(fsName, path, integer(q, 'position'), conditions, q.get('retainUncommittedData') === 'true');
      const contentType = header(req, 'x-ms-content-type');
      if (contentType) entry.contentType = contentType;
      return send(res, 200, { ...entryHeaders(entry), 'x-ms-request-server-encrypted': 'true' });
    }
    if (method === 'DELETE') {
      store.delete(fsName, path, q.get('recursive') === 'true', conditions);
      return send(res, 200);
    }
    if (method === 'GET' || method === 'HEAD') return read(req, res, store.path(fsName, path), conditions);
    throw unsupported(method, url);
  };

  const listPaths = (res: ServerResponse, fsName: string, q: URLSearchParams) => {
    const all = store.list(fsName, q.get('directory') ?? undefined, q.get('recursive') === 'true');
    const after = q.get('continuation') ? Buffer.from(q.get('continuation')!, 'base64').toString() : '';
    const max = Number(q.get('maxResults') ?? 5000);
    const remaining = all.filter(([name]) => name > after);
    const page = remaining.slice(0, max);
    // Shaped like the service's JSON, numbers and booleans as strings (the SDK converts them);
    // note the service says "etag" while the SDK's model reads "eTag".
    const paths = page.map(([name, e]) => ({
      name,
      ...(e.kind === 'directory' ? { isDirectory: 'true' } : {}),
      contentLength: String(e.data.length),
      lastModified: e.lastModified.toUTCString(),
      etag: e.etag.replace(/"/g, ''),
      owner: '$superuser',
      group: '$superuser',
      permissions: e.kind === 'directory' ? 'rwxr-x---' : 'rw-r-----',
      creationTime: String((e.created.getTime() + 11644473600000) * 10000),
    }));
    const headers: Record<string, string> = { 'Content-Type': 'application/json;charset=utf-8' };
    if (remaining.length > page.length) headers['x-ms-continuation'] = Buffer.from(page[page.length - 1][0]).toString('base64');
    send(res, 200, headers, Buffer.from(JSON.stringify({ paths })));
  };

  const read = (req: IncomingMessage, res: ServerResponse, entry: PathEntry, conditions: Conditions) => {
    if (conditions.ifNoneMatch !== undefined && (conditions.ifNoneMatch === '*' || conditions.ifNoneMatch === entry.etag)) {
      return send(res, 304, entryHeaders(entry));
    }
    check(entry, { ...conditions, ifNoneMatch: undefined });
    const size = entry.data.length;
    const headers = { ...entryHeaders(entry), 'Accept-Ranges': 'bytes' };
    const range = /^bytes=(\d+)-(\d*)$/.exec(header(req, 'x-ms-range') ?? header(req, 'range') ?? '');
    if (!range) return send(res, 200, headers, entry.data, size);
    const start = Number(range[1]);
    if (start >= size) {
      throw new StorageError(416, 'InvalidRange', 'The range specified is invalid for the current size of the resource.');
    }
    const end = Math.min(size - 1, range[2] ? Number(range[2]) : size - 1);
    send(res, 206, { ...headers, 'Content-Range': `bytes ${start}-${end}/${size}` }, entry.data.subarray(start, end + 1));
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/${accountName}`,
    port,
    accountName,
    store,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** DFS calls carry DFS-only parameters; everything else is the Blob API (XML errors). */
export function isDfs(req: IncomingMessage): boolean {
  const q = new URL(req.url ?? '/', 'http://127.0.0.1').searchParams;
  return req.method === 'PATCH' || q.has('resource') || q.has('action') || q.has('recursive')
    || q.has('mode') || req.headers['x-ms-rename-source'] !== undefined
    || (req.method === 'DELETE' && !q.has('restype'));
}

/**
 * The path's segments after the account. URLs are path-style (`/{account}/{fs}/{path}`),
 * except that the SDK's move() builds its destination as `/{fs}/{path}` (it replaces the
 * whole URL path, as for a host-style `account.dfs.core.windows.net` URL), and so may
 * x-ms-rename-source: a path not starting with the account is taken as host-style.
 */
function withoutAccount(pathname: string, accountName: string): string[] {
  const segments = pathname.split('/').slice(1).map(decodeURIComponent);
  return segments[0] === accountName ? segments.slice(1) : segments;
}

/** Requests older than this (by x-ms-date, else Date) are refused, as the service does. */
const MAX_REQUEST_AGE_MS = 15 * 60 * 1000;

function authorize(req: IncomingMessage, url: URL, accountName: string, accountKey: string, now: number): void {
  const authorization = header(req, 'authorization');
  if (!authorization) {
    if (url.searchParams.has('sig')) return;
    throw new StorageError(401, 'NoAuthenticationInformation', 'Server failed to authenticate the request. Please refer to the information in the www-authenticate header.');
  }
  const sharedKey = /^SharedKey ([^:\s]+):([A-Za-z0-9+/]+={0,2})$/.exec(authorization);
  if (!sharedKey && !/^Bearer \S+$/.test(authorization)) {
    throw new StorageError(400, 'InvalidAuthenticationInfo', 'Authentication information is not given in the correct format. Check the value of Authorization header.');
  }
  if (!sharedKey) return;
  const failed = (detail: string) => Object.assign(
    new StorageError(403, 'AuthenticationFailed', 'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.'),
    { detail },
  );
  const date = Date.parse(header(req, 'x-ms-date') ?? header(req, 'date') ?? '');
  if (Number.isNaN(date)) throw failed('The Date header in the request is incorrect.');
  if (now - date > MAX_REQUEST_AGE_MS) throw failed(`Request date header too old: '${header(req, 'x-ms-date') ?? header(req, 'date')}'`);
  if (sharedKey[1] !== accountName || !verifySharedKey(req, accountName, accountKey, sharedKey[2])) {
    throw failed(`The MAC signature found in the HTTP request '${sharedKey[2]}' is not the same as any computed signature. Server used following string to sign: '${stringToSign(req, accountName)}'.`);
  }
}

function unsupported(method: string, url: URL): StorageError {
  return new StorageError(400, 'UnsupportedQueryParameter',
    `The DFS test server does not serve ${method} ${url.pathname}${url.search} (see test/servers/dfsServer.ts).`);
}

function send(res: ServerResponse, status: number, headers: Record<string, string> = {}, body?: Buffer, contentLength?: number) {
  res.writeHead(status, {
    'x-ms-request-id': randomUUID(),
    'x-ms-version': '2025-01-05',
    Date: new Date().toUTCString(),
    'Content-Length': String(contentLength ?? body?.length ?? 0),
    ...headers,
  });
  // HEAD answers carry the resource's Content-Length but never a body.
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** Answers with an error in the service's shape for this kind of call (also used by the fault proxy). */
export function sendError(req: IncomingMessage, res: ServerResponse, err: unknown) {
  const e = err instanceof StorageError ? err : new StorageError(500, 'InternalError', String((err as Error)?.stack ?? err));
  const dfs = isDfs(req);
  const { code, message: text } = dfs ? { code: e.code, message: e.message } : e.blob;
  const message = `${text}\nRequestId:${randomUUID()}\nTime:${new Date().toISOString()}`;
  // The Blob API explains a refused signature in AuthenticationErrorDetail.
  const detail = (e as { detail?: string }).detail;
  const extra = detail ? `<AuthenticationErrorDetail>${escapeXml(detail)}</AuthenticationErrorDetail>` : '';
  const body = dfs
    ? Buffer.from(JSON.stringify({ error: { code, message } }))
    : Buffer.from(`<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message>${extra}</Error>`);
  const headers = {
    'x-ms-error-code': code,
    'Content-Type': dfs ? 'application/json;charset=utf-8' : 'application/xml',
  };
  send(res, e.status, headers, req.method === 'HEAD' ? undefined : body);
}

function fsHeaders(fs: { etag: string; lastModified: Date }): Record<string, string> {
  return { ETag: fs.etag, 'Last-Modified': fs.lastModified.toUTCString() };
}

function pathHeaders(entry: PathEntry): Record<string, string> {
  const headers: Record<string, string> = {
    ETag: entry.etag,
    'Last-Modified': entry.lastModified.toUTCString(),
    'x-ms-creation-time': entry.created.toUTCString(),
    'x-ms-resource-type': entry.kind,
    'x-ms-blob-type': 'BlockBlob',
    'x-ms-server-encrypted': 'true',
    'Content-Type': entry.contentType ?? 'application/octet-stream',
  };
  for (const [name, value] of Object.entries(entry.metadata)) headers[`x-ms-meta-${name}`] = value;
  return headers;
}

function conditionsOf(req: IncomingMessage, prefix: '' | 'x-ms-source-'): Conditions {
  const date = (name: string) => {
    const value = header(req, prefix + name);
    return value ? new Date(value) : undefined;
  };
  return {
    ifMatch: header(req, `${prefix}if-match`),
    ifNoneMatch: header(req, `${prefix}if-none-match`),
    ifModifiedSince: date('if-modified-since'),
    ifUnmodifiedSince: date('if-unmodified-since'),
    leaseId: header(req, prefix ? `${prefix}lease-id` : 'x-ms-lease-id'),
  };
}

/** `x-ms-properties: name=base64(value),...` */
function parseProperties(value: string | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const pair of value ? value.split(',') : []) {
    const at = pair.indexOf('=');
    if (at > 0) result[pair.slice(0, at).trim()] = Buffer.from(pair.slice(at + 1), 'base64').toString();
  }
  return result;
}

function metadataHeaders(req: IncomingMessage): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith('x-ms-meta-') && typeof value === 'string') result[name.slice('x-ms-meta-'.length)] = value;
  }
  return result;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

function integer(q: URLSearchParams, name: string): number {
  const value = q.get(name);
  if (value === null || !/^\d+$/.test(value)) {
    throw new StorageError(400, 'InvalidQueryParameterValue', `Value for one of the query parameters specified in the request URI is invalid: ${name}.`);
  }
  return Number(value);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
