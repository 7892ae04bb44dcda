/**
 * Shared Key authorization as the storage service checks it ("Authorize with Shared Key",
 * Azure Storage REST reference: the Blob, Queue and File services' string to sign, versions
 * 2009-09-19 and later). The server recomputes the signature from the request as it arrived and
 * refuses a mismatch with 403 AuthenticationFailed, so a client that signs the wrong string (an
 * encoding slip in a path or query value, a header signed but sent differently) or uses the wrong
 * key fails here as it would against Azure.
 *
 *   StringToSign = VERB + "\n" + Content-Encoding + "\n" + Content-Language + "\n" +
 *                  Content-Length (empty when 0, version 2015-02-21 and later) + "\n" +
 *                  Content-MD5 + "\n" + Content-Type + "\n" + Date + "\n" + If-Modified-Since + "\n" +
 *                  If-Match + "\n" + If-None-Match + "\n" + If-Unmodified-Since + "\n" + Range + "\n" +
 *                  CanonicalizedHeaders + CanonicalizedResource
 *
 * CanonicalizedHeaders: every `x-ms-*` header, name lower-cased, sorted by name, `name:value\n`
 * with the value trimmed. CanonicalizedResource: `/{account}{encoded URI path}`, then for each
 * query parameter, names lower-cased and sorted, `\nname:value` with name and value URL-decoded
 * (several values of one name sorted and joined by commas).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const STANDARD_HEADERS = [
  'content-encoding', 'content-language', 'content-length', 'content-md5', 'content-type', 'date',
  'if-modified-since', 'if-match', 'if-none-match', 'if-unmodified-since', 'range',
] as const;

/** The string the service signs for this request (exposed so a refusal can show it, as the service does). */
export function stringToSign(req: IncomingMessage, accountName: string): string {
  const standard = STANDARD_HEADERS.map((name) => {
    const value = headerValue(req, name);
    return name === 'content-length' && value === '0' ? '' : value;
  });
  return [(req.method ?? 'GET').toUpperCase(), ...standard].join('\n') + '\n' + canonicalizedHeaders(req) + canonicalizedResource(req, accountName);
}

/** Whether `authorization` (`SharedKey account:signature`) signs this request with `accountKey`. */
export function verifySharedKey(req: IncomingMessage, accountName: string, accountKey: string, signature: string): boolean {
  const expected = createHmac('sha256', Buffer.from(accountKey, 'base64')).update(stringToSign(req, accountName), 'utf8').digest();
  const given = Buffer.from(signature, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function canonicalizedHeaders(req: IncomingMessage): string {
  return Object.keys(req.headers)
    .map((name) => name.toLowerCase())
    .filter((name) => name.startsWith('x-ms-'))
    .sort()
    .map((name) => `${name}:${headerValue(req, name).trim()}\n`)
    .join('');
}

function canonicalizedResource(req: IncomingMessage, accountName: string): string {
  const raw = req.url ?? '/';
  const query = raw.indexOf('?');
  const path = (query === -1 ? raw : raw.slice(0, query)) || '/';
  let resource = `/${accountName}${path}`;
  const params = new Map<string, string[]>();
  for (const pair of query === -1 ? [] : raw.slice(query + 1).split('&')) {
    if (!pair) continue;
    const at = pair.indexOf('=');
    const name = decodeURIComponent(at === -1 ? pair : pair.slice(0, at)).toLowerCase();
    const value = at === -1 ? '' : decodeURIComponent(pair.slice(at + 1));
    params.set(name, [...(params.get(name) ?? []), value]);
  }
  for (const name of [...params.keys()].sort()) resource += `\n${name}:${params.get(name)!.sort().join(',')}`;
  return resource;
}

function headerValue(req: IncomingMessage, name: string): string {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : (value ?? '');
}
