import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventlake, tempDir } from '../support/cli.js';
import { get, post, registerCharger, startServer, waitReady, type RunningServer } from '../support/server.js';

const TOKEN = 's3cret-token-for-tests-only';

describe('eventlake serve: auth', () => {
  let server: RunningServer;

  beforeAll(async () => {
    // Debug logging on: even then the token must not show up in any output.
    server = await startServer({ env: { EVENTLAKE_API_TOKEN: TOKEN, EVENTLAKE_LOG_LEVEL: 'debug' } });
    await waitReady(server);
  });
  afterAll(async () => {
    if (server) expect(await server.stop()).toBe(0);
  });

  it('answers 401 to writes without the token, or with a wrong one, and writes nothing', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { 'x-api-key': 'wrong' }, { authorization: TOKEN }] as Record<string, string>[]) {
      const answer = await post(`${server.url}/commands`, registerCharger('AUTH-0', 'auth-0'), headers);
      expect(answer.status, JSON.stringify(headers)).toBe(401);
      expect(answer.body.error.code).toBe('unauthorized');
      expect(answer.headers.get('www-authenticate')).toContain('Bearer');
    }
    expect((await get(`${server.url}/status`)).body.ingest.accepted).toBe(0);
  });

  it('accepts writes with the token as a bearer token or an API key', async () => {
    expect((await post(`${server.url}/commands`, registerCharger('AUTH-1'), { authorization: `Bearer ${TOKEN}` })).status).toBe(202);
    expect((await post(`${server.url}/commands`, registerCharger('AUTH-2', 'auth-2'), { 'x-api-key': TOKEN })).status).toBe(202);
  });

  it('guards data reads too (queries, command lookups) but not health, status and metrics', async () => {
    expect((await post(`${server.url}/query`, { sql: 'SELECT 1' })).status).toBe(401);
    expect((await post(`${server.url}/query`, { sql: 'SELECT 1 AS one' }, { authorization: `Bearer ${TOKEN}` })).body.rows).toEqual([{ one: 1 }]);
    expect((await get(`${server.url}/commands/auth-2`)).status).toBe(401);
    expect((await get(`${server.url}/commands/auth-2`, { 'x-api-key': TOKEN })).status).toBe(200);
    for (const path of ['/healthz', '/readyz', '/status', '/status/history', '/metrics', '/']) {
      expect((await get(`${server.url}${path}`)).status, path).toBe(200);
    }
    expect((await get(`${server.url}/status`)).body.service.auth).toBe(true);
  });

  it('never prints the token', async () => {
    const { stdout, stderr } = server.output();
    expect(stderr).toContain('"component":"http"'); // debug request logs were written...
    expect(`${stdout}${stderr}`).not.toContain(TOKEN); // ...without the token
  });
});

describe('eventlake serve: auth off', () => {
  it('takes writes without a token on loopback when none is configured', async () => {
    const server = await startServer({ env: { EVENTLAKE_API_TOKEN: '' } });
    try {
      expect((await post(`${server.url}/commands`, registerCharger('OPEN-1'))).status).toBe(202);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('refuses to listen on a non-loopback host without a token, saying why', async () => {
    const result = await eventlake(['--lake', `${tempDir()}/lake`, 'serve', '--host', '0.0.0.0', '--port', '0'], { env: { EVENTLAKE_API_TOKEN: '' } });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('refusing to listen on 0.0.0.0 without a token');
    expect(result.stderr).toContain('EVENTLAKE_API_TOKEN');
  });
});

// Issue 12, item 16: a token read from a secret file keeps its trailing newline.
describe('eventlake serve: the token as deployments hand it over', () => {
  it('trims surrounding whitespace, so a token from a file with a trailing newline works', async () => {
    const server = await startServer({ env: { EVENTLAKE_API_TOKEN: `${TOKEN}\r\n` } });
    try {
      expect((await post(`${server.url}/commands`, registerCharger('TRIM-1'), { authorization: `Bearer ${TOKEN}` })).status).toBe(202);
      expect((await post(`${server.url}/commands`, registerCharger('TRIM-2'))).status).toBe(401);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it.each([
    ['whitespace inside', 'two words', 'has whitespace (" ") at position 4'],
    ['a second line', 'line-one\nline-two', 'has whitespace ("\\n") at position 9'],
    ['a control character', 'tok\u0007en', 'has a control character ("\\u0007") at position 4'],
    ['nothing but whitespace', ' \n', 'is empty once surrounding whitespace is trimmed'],
  ])('refuses at start a token with %s, saying why', async (_what, token, reason) => {
    const result = await eventlake(['--lake', `${tempDir()}/lake`, 'serve', '--port', '0'], { env: { EVENTLAKE_API_TOKEN: token } });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`the API token (EVENTLAKE_API_TOKEN) ${reason}`);
    if (token.trim()) expect(result.stderr).not.toContain(token.trim()); // the token is never echoed
  });

  it('refuses an empty --token rather than running without one', async () => {
    const result = await eventlake(['--lake', `${tempDir()}/lake`, 'serve', '--port', '0', '--token', ''], { env: { EVENTLAKE_API_TOKEN: '' } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the API token (--token) is empty');
  });
});
