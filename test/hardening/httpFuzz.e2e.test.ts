import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, waitReady, type RunningServer } from '../support/server.js';

const LONG = process.env.EVENTLAKE_FUZZ_LONG === '1';

/** Raw requests aimed at the HTTP layer: any bytes, any content type, odd shapes and sizes. */
const request = fc.oneof(
  fc.record({ type: fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', ''), body: fc.string({ unit: 'binary', maxLength: 500 }) }),
  fc.record({ type: fc.constant('application/json'), body: fc.json({ maxDepth: 5 }) }),
  fc.record({ type: fc.constant('application/json'), body: fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 5 }).map((v) => JSON.stringify(v)) }),
  fc.constantFrom(
    { type: 'application/json', body: '{"__proto__":{"polluted":true},"command_name":"RegisterCustomer","received":"2026-01-01T00:00:00Z","command":{"customer_id":"p","customer_name":"n"}}' },
    { type: 'application/json', body: `[${'['.repeat(50_000)}${']'.repeat(50_000)}]` },
    { type: 'application/json', body: '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000) },
    { type: 'application/json', body: JSON.stringify({ command_name: 'RegisterCustomer', received: '2026-01-01T00:00:00Z', command: { customer_id: 'x'.repeat(300_000), customer_name: 'n' } }) },
    { type: 'application/json', body: 'x'.repeat(3 * 1024 * 1024) },
    { type: 'application/json', body: JSON.stringify(Array.from({ length: 2000 }, () => ({}))) },
    { type: 'application/json', body: '' },
    { type: 'application/json', body: 'null' },
  ),
);

describe('fuzzing the HTTP command API', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ args: ['--no-live'] });
    await waitReady(server);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('every request gets a 2xx/4xx with a clear body, the process never crashes, nothing is written for a 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(request, async ({ type, body }) => {
        const before = (await (await fetch(`${server.url}/status`)).json()) as { ingest: unknown };
        const response = await fetch(`${server.url}/commands`, { method: 'POST', headers: type ? { 'content-type': type } : {}, body });
        const text = await response.text();
        expect(response.status, text.slice(0, 200)).toBeLessThan(500);
        if (response.status >= 400 && response.status !== 422) {
          expect(JSON.parse(text).message ?? JSON.parse(text).error).toBeTruthy();
          const after = (await (await fetch(`${server.url}/status`)).json()) as { ingest: unknown };
          expect(after.ingest).toEqual(before.ingest); // nothing decided, nothing written
        }
        expect(text.length).toBeLessThan(64 * 1024); // never echoes a huge input back
      }),
      { numRuns: LONG ? 5_000 : 120 },
    );
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect(server.child.exitCode).toBeNull();
  });
});
