import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, startServer, waitFor, waitReady, type Answer, type RunningServer } from '../support/server.js';

/** A query that burns CPU until it is interrupted, with no memory to speak of. */
const SLOW = 'SELECT count(*) AS n FROM range(1000000000000)';

/**
 * Issue 12, items 8 and 9: a query must not stall the process, nor queue without limit. (Before:
 * with a 2 s timeout `SELECT list(range) FROM range(20000000)` answered after 13 s while /healthz
 * took 10.6 s, the rows being converted on the event loop; `SELECT 1` waited 16 s behind 8 slow
 * queries, its wait not counted against the timeout.)
 */
describe('eventlake serve: queries run off the event loop, with a bounded queue', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ args: ['--no-live', '--query-timeout', '1500'] });
    await waitReady(server);
    await warmUp(server);
  });
  afterAll(async () => {
    if (server) expect(await server.stop()).toBe(0);
  });

  for (const sql of ['SELECT list(range) AS l FROM range(20000000)', 'SELECT range(20000000) AS l']) {
    it(`cuts off \`${sql}\` with a clear error while /healthz keeps answering`, async () => {
      const query = post(`${server.url}/query`, { sql });
      let done = false;
      void query.finally(() => (done = true));
      // /healthz, one after another, as long as the query runs: each must answer while it does.
      const probes: number[] = [];
      while (!done) {
        probes.push((await fetch(`${server.url}/healthz`)).status);
        await new Promise((r) => setTimeout(r, 100));
      }
      const answer = await query;
      expect(answer.status, JSON.stringify(answer.body)).toBeOneOf([504, 422]);
      if (answer.status === 504) expect(answer.body.error).toMatchObject({ code: 'query_timeout', message: expect.stringContaining('not answered within 1500 ms') });
      else expect(answer.body.error).toMatchObject({ code: 'query_out_of_memory', message: expect.stringContaining('--query-memory') });
      expect(probes.every((s) => s === 200)).toBe(true);
      expect(probes.length).toBeGreaterThanOrEqual(2); // the query takes 1.5 s at least; a probe, moments
      // The service answers the next query (a killed query process is replaced).
      await warmUp(server);
    });
  }

  it('answers 503 with Retry-After once the queue is full, and counts waiting toward the timeout', async () => {
    // 2 run at once, 16 wait (the defaults); 40 arrive together.
    const answers = await Promise.all(Array.from({ length: 40 }, () => post(`${server.url}/query`, { sql: SLOW })));
    const byStatus = (status: number) => answers.filter((a) => a.status === status);
    expect(answers.map((a) => a.status).filter((s) => s !== 503 && s !== 504)).toEqual([]);
    expect(byStatus(503).length).toBeGreaterThan(0); // 40 - 18 when all arrive within the timeout
    for (const busy of byStatus(503)) {
      expect(busy.body.error).toMatchObject({ code: 'queries_busy', message: expect.stringContaining('--query-queue') });
      expect(Number(busy.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    // The ones that waited used up their time waiting: answered at the timeout, not after the queries before them.
    const waited = byStatus(504).filter((a: Answer) => /waiting for a free query process/.test(a.body.error.message));
    expect(waited.length).toBeGreaterThan(0);
    await warmUp(server);
  });
});

describe('eventlake serve: query memory and result-size caps', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ args: ['--no-live', '--query-memory', '256', '--query-max-bytes', '100000', '--query-timeout', '120000'] });
    await waitReady(server);
    await warmUp(server);
  });
  afterAll(async () => {
    if (server) expect(await server.stop()).toBe(0);
  });

  it('refuses a query whose working set is over the memory cap (DuckDB memory_limit)', async () => {
    const answer = await post(`${server.url}/query`, { sql: "SELECT list(repeat('x', 1000)) AS l FROM range(2000000)" });
    expect(answer.status).toBe(422);
    expect(answer.body.error).toMatchObject({ code: 'query_out_of_memory', message: expect.stringContaining('--query-memory') });
  });

  it('refuses a result over the byte cap, and truncates by rows as before', async () => {
    const big = await post(`${server.url}/query`, { sql: "SELECT repeat('x', 1000) AS s FROM range(1000)" });
    expect(big.status).toBe(422);
    expect(big.body.error).toMatchObject({ code: 'result_too_large', message: expect.stringContaining('larger than 100000 bytes') });
    const rows = await post(`${server.url}/query`, { sql: 'SELECT range AS n FROM range(50)', limit: 10 });
    expect(rows.body).toMatchObject({ rowCount: 10, limit: 10, truncated: true });
    expect(rows.body.rows[9]).toEqual({ n: 9 });
  });
});

/**
 * Waits until a query is answered: a query process starts with the first query that needs it,
 * and on a loaded machine its start alone can outlast a short query timeout.
 */
function warmUp(server: RunningServer): Promise<true> {
  return waitFor(async () => (await post(`${server.url}/query`, { sql: 'SELECT 42 AS x' })).status === 200 || undefined, 'a query answered', 50_000);
}
