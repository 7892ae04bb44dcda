import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, registerCharger, startServer, waitReady, type RunningServer } from '../support/server.js';

/**
 * POST /query `after`: a client reads its own write with one query, answered once the read
 * models show the command's events (no polling). 200 commands in one request, queried at once:
 * without the wait, the query would come long before a live job folded them all.
 */
describe('eventlake serve: POST /query after the positions POST /commands answered', () => {
  let server: RunningServer;
  let offline: RunningServer;
  const query = (target: RunningServer, body: object) => post(`${target.url}/query`, body);

  beforeAll(async () => {
    server = await startServer({ args: ['--query-timeout', '120000'] });
    offline = await startServer({ args: ['--no-live'] });
    await Promise.all([waitReady(server), waitReady(offline)]);
  }, 180_000);
  afterAll(async () => {
    expect(await server?.stop()).toBe(0);
    expect(await offline?.stop()).toBe(0);
  });

  it('answers with every row of the commands it names, for the read models named or all live ones', async () => {
    const serials = Array.from({ length: 200 }, (_, i) => `AFTER-${i}`);
    const accepted = await post(`${server.url}/commands`, serials.map((serial) => registerCharger(serial)));
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    const events = accepted.body.results.flatMap((r: { events: object[] }) => r.events);
    expect(events).toHaveLength(200);

    const named = await query(server, { sql: "SELECT count(*) AS n FROM superchargers WHERE supercharger_serial LIKE 'AFTER-%'", after: events, readModels: ['superchargers'] });
    expect(named.status, JSON.stringify(named.body)).toBe(200);
    expect(named.body.rows).toEqual([{ n: 200 }]);

    // Without `readModels`, every live read model reading those streams: the history too.
    const last = events.at(-1);
    const all = await query(server, { sql: "SELECT count(*) AS n FROM supercharger_status_history WHERE supercharger_serial LIKE 'AFTER-%'", after: [last, ...events.slice(0, 3)] });
    expect(all.status, JSON.stringify(all.body)).toBe(200);
    expect(all.body.rows).toEqual([{ n: 200 }]);
  }, 180_000);

  it('refuses positions that can never be shown, with the reason', async () => {
    const sql = 'SELECT count(*) AS n FROM superchargers';
    const beyond = await query(server, { sql, after: [{ partition: 0, sequence: 1_000_000_000 }] });
    expect(beyond.status).toBe(400);
    expect(beyond.body.error.code).toBe('bad_after');
    expect(beyond.body.error.message).toMatch(/stream p0 ends at sequence \d+, not 1000000000/);

    const accepted = await post(`${server.url}/commands`, registerCharger('AFTER-UNKNOWN-MODEL'));
    expect(accepted.status).toBe(202);
    const unknown = await query(server, { sql, after: accepted.body.events, readModels: ['no_such_model'] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatchObject({ code: 'bad_after' });
    expect(unknown.body.error.message).toMatch(/no_such_model is not a read model a live job of this service follows/);

    const shapeless = await query(server, { sql, after: [{ partition: 0 }] });
    expect(shapeless.status).toBe(400);
    const modelsAlone = await query(server, { sql, readModels: ['superchargers'] });
    expect(modelsAlone.status).toBe(400);
  });

  it('refuses `after` on a service without live jobs: nothing would ever show the positions', async () => {
    const accepted = await post(`${offline.url}/commands`, registerCharger('AFTER-OFFLINE'));
    expect(accepted.status).toBe(202);
    const answer = await query(offline, { sql: 'SELECT 1 AS one', after: accepted.body.events });
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toMatch(/no live job of this service reads those log streams/);
  });
});
