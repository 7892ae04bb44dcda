import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventlake } from '../support/cli.js';
import { changeStatus, get, post, registerCharger, startServer, waitCaughtUp, waitFor, waitReady, type RunningServer } from '../support/server.js';

interface ServerEvent {
  event: string;
  data: any;
}

/** A real SSE client over fetch: collects events as they arrive. */
async function subscribe(url: string) {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal, headers: { accept: 'text/event-stream' } });
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  const events: ServerEvent[] = [];
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  void (async () => {
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const field = (name: string) => block.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
          const data = field('data');
          if (data !== undefined) events.push({ event: field('event') ?? 'message', data: JSON.parse(data) });
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    events,
    /** The first event after `from` (an index into events) that matches. */
    next: (match: (e: ServerEvent) => boolean, from = 0, what = 'an event') => waitFor(() => events.slice(from).find(match), what),
    close: () => controller.abort(),
  };
}

describe('eventlake serve: live projections, change feed and queries', () => {
  let server: RunningServer;
  const query = (body: object) => post(`${server.url}/query`, body);

  beforeAll(async () => {
    // 5 s: long enough for every other query here on a loaded machine (500 ms was not, at load
    // 10-14), short enough for the timeout test, whose query would run for hours.
    server = await startServer({ args: ['--query-limit', '100', '--query-timeout', '5000'] });
    await waitReady(server);
  });
  afterAll(async () => {
    if (!server) return;
    // A live job that failed was retried and the tests waited it out; say why it failed, for the record.
    const failures = server.output().stderr.split('\n').filter((line) => line.includes('failed'));
    if (failures.length > 0) console.warn(`eventlake serve logged failures:\n${failures.join('\n')}`);
    expect(await server.stop()).toBe(0);
  });

  it('announces read-model changes after a command, and the views already show them', async () => {
    const feed = await subscribe(`${server.url}/events/stream`);
    try {
      await feed.next((e) => e.event === 'ready', 0, 'the ready event');
      let seen = feed.events.length;
      expect((await post(`${server.url}/commands`, registerCharger('LIVE-1'))).status).toBe(202);
      const registered = await feed.next((e) => e.event === 'change' && e.data.job === 'superchargers', seen, 'a superchargers change');
      expect(registered.data).toMatchObject({ table: 'superchargers', trigger: 'live', mode: 'incremental', applied: 1, commits: 1 });
      const sql = "SELECT status, version FROM superchargers WHERE supercharger_serial = 'LIVE-1'";
      const first = await query({ sql });
      expect(first.body.rows, JSON.stringify(first.body)).toEqual([{ status: 'notinuse', version: 1 }]);

      seen = feed.events.length;
      expect((await post(`${server.url}/commands`, changeStatus('LIVE-1', 'inuse'))).status).toBe(202);
      const changed = await feed.next((e) => e.event === 'change' && e.data.job === 'superchargers', seen, 'a second superchargers change');
      expect(changed.data.tableVersion).toBeGreaterThan(registered.data.tableVersion);
      // The change names the keys it moved, so a client refetches only those rows.
      expect(changed.data).toMatchObject({ readModel: 'superchargers', keys: [{ supercharger_serial: 'LIVE-1' }] });
      expect((await query({ sql })).body.rows).toEqual([{ status: 'inuse', version: 2 }]);
      // The history is another job, announced by its own change: once announced, it shows both periods.
      await feed.next((e) => e.event === 'change' && e.data.readModel === 'supercharger_status_history', seen, 'a supercharger_status_history change');
      const history = await query({ sql: "SELECT status, valid_to IS NULL AS current FROM supercharger_status_history WHERE supercharger_serial = 'LIVE-1' ORDER BY valid_from" });
      expect(history.body.rows, server.output().stderr).toEqual([
        { status: 'notinuse', current: false },
        { status: 'inuse', current: true },
      ]);
    } finally {
      feed.close();
    }
  });

  it('lists each changed key once per read model', async () => {
    // Every job past its first run (which writes the whole table and lists no keys) first.
    await waitCaughtUp(server);
    const feed = await subscribe(`${server.url}/events/stream`);
    try {
      await feed.next((e) => e.event === 'ready', 0, 'the ready event');
      const seen = feed.events.length;
      const batch = [registerCharger('KEYS-1'), registerCharger('KEYS-2'), changeStatus('KEYS-1', 'inuse')];
      expect((await post(`${server.url}/commands`, batch)).status).toBe(202);
      const changes = new Map<string, any>();
      await waitFor(() => {
        for (const e of feed.events.slice(seen)) if (e.event === 'change' && e.data.trigger === 'live') changes.set(e.data.readModel, e.data);
        return ['superchargers', 'supercharger_status_history', 'daily_status_changes'].every((m) => changes.has(m)) || undefined;
      }, 'changes of the three supercharger read models');
      const keys = (model: string) => changes.get(model).keys?.map((k: any) => k.supercharger_serial).sort();
      expect(keys('superchargers')).toEqual(['KEYS-1', 'KEYS-2']);
      expect(keys('supercharger_status_history')).toEqual(['KEYS-1', 'KEYS-2']);
      expect(changes.get('daily_status_changes').keys).toEqual([{ day: expect.any(String), status: 'inuse' }]);
      const rows = await query({ sql: "SELECT supercharger_serial, status FROM superchargers WHERE supercharger_serial LIKE 'KEYS-%' ORDER BY 1" });
      expect(rows.body.rows).toEqual([{ supercharger_serial: 'KEYS-1', status: 'inuse' }, { supercharger_serial: 'KEYS-2', status: 'notinuse' }]);
    } finally {
      feed.close();
    }
  });

  it('gives every query a session of its own: a temp view one query leaves does not shadow a view for later ones', async () => {
    await query({ sql: "EXPLAIN ANALYZE CREATE TEMP VIEW superchargers AS SELECT 'PWNED' AS supercharger_serial" });
    // Both query processes: the next queries may land on either.
    for (let i = 0; i < 4; i++) {
      const answer = await query({ sql: "SELECT count(*) AS n FROM superchargers WHERE supercharger_serial = 'PWNED'" });
      expect(answer.body.rows, JSON.stringify(answer.body)).toEqual([{ n: 0 }]);
    }
  });

  it('keeps views.duckdb for outside clients current within the merge delay', async () => {
    expect((await post(`${server.url}/commands`, registerCharger('OUTSIDE-1'))).status).toBe(202);
    await waitFor(async () => {
      const result = await eventlake(['--lake', server.lake, 'query', "SELECT count(*) AS n FROM superchargers WHERE supercharger_serial = 'OUTSIDE-1'", '--json']);
      return (result.code === 0 && JSON.parse(result.stdout)[0].n === 1) || undefined;
    }, 'the row in views.duckdb', 60_000);
  });

  it('catches every live job up (no lag) once the commands are in', async () => {
    await waitCaughtUp(server);
    const { body } = await get(`${server.url}/status`);
    // Six commands: two in the first test, three in the keys test, one for views.duckdb.
    expect(body.jobs.find((j: { job: string }) => j.job === 'command_status')).toMatchObject({ live: true, lastTrigger: 'live', lastError: null, rows: 6 });
  });

  it('refuses statements that are not read-only queries, with the reason', async () => {
    const refused = [
      'INSERT INTO read_models.superchargers SELECT * FROM read_models.superchargers',
      'CREATE TABLE t AS SELECT 1',
      "ATTACH '/tmp/other.duckdb' AS other",
      'INSTALL httpfs',
      'LOAD httpfs',
      'SET threads = 1',
      "COPY (SELECT 1) TO '/tmp/eventlake-escape.csv'",
      "SELECT * FROM read_csv('/etc/passwd')",
      "SELECT * FROM read_text('/etc/hostname')",
    ];
    for (const sql of refused) {
      const answer = await query({ sql });
      expect(answer.status, sql).toBe(400);
      expect(answer.body.error.code, sql).toBe('query_refused');
      expect(answer.body.error.message.length, sql).toBeGreaterThan(10);
    }
    for (const sql of ['SELEC 1', 'SELECT 1; SELECT 2', 'SELECT * FROM no_such_view']) {
      const answer = await query({ sql });
      expect(answer.status, sql).toBe(400);
      expect(answer.body.error.code, sql).toBe('invalid_query');
    }
    expect((await query({})).status).toBe(400);
    expect((await query({ sql: 'SELECT 1', limit: 0 })).status).toBe(400);
  });

  it('answers at most the row limit and says the result was cut', async () => {
    const all = await query({ sql: 'SELECT * FROM range(1000) t(i) ORDER BY i' });
    expect(all.body).toMatchObject({ rowCount: 100, limit: 100, truncated: true });
    expect(all.body.rows[99]).toEqual({ i: 99 });
    expect((await query({ sql: 'SELECT * FROM range(1000)', limit: 7 })).body).toMatchObject({ rowCount: 7, truncated: true });
    expect((await query({ sql: 'SELECT * FROM range(1000)', limit: 5000 })).body).toMatchObject({ rowCount: 100, limit: 100 });
    expect((await query({ sql: 'SELECT * FROM range(3)' })).body).toMatchObject({ rowCount: 3, truncated: false });
  });

  it('stops a query that runs past the timeout and keeps answering afterwards', async () => {
    const slow = await query({ sql: 'SELECT sum(hash(i)) FROM range(1000000000000) t(i)' });
    expect(slow.status).toBe(504);
    expect(slow.body.error).toMatchObject({ code: 'query_timeout', message: expect.stringContaining('within 5000 ms') });
    expect((await query({ sql: 'SELECT 42 AS answer' })).body.rows).toEqual([{ answer: 42 }]);
  });
});

describe('eventlake serve: built-in scheduler', () => {
  it('runs a job on its cron schedule in its schedule mode', async () => {
    const server = await startServer({
      config: {
        domains: ['superchargers', 'orders'],
        jobs: [
          { name: 'superchargers', projection: 'superchargers' },
          { name: 'command_status_nightly', projection: 'command_status', output: 'command_status', live: false, schedule: '* * * * * *', scheduleMode: 'rebuild' },
        ],
      },
    });
    try {
      await waitReady(server);
      // Something for the rebuild to build from: a rebuild of an empty log commits nothing.
      expect((await post(`${server.url}/commands`, registerCharger('SCHEDULED-1'))).status).toBe(202);
      const feed = await subscribe(`${server.url}/events/stream`);
      try {
        const scheduled = await feed.next((e) => e.event === 'change' && e.data.trigger === 'schedule', 0, 'a scheduled run');
        expect(scheduled.data).toMatchObject({ job: 'command_status_nightly', mode: 'rebuild' });
      } finally {
        feed.close();
      }
      const { body } = await get(`${server.url}/status`);
      const job = body.jobs.find((j: { job: string }) => j.job === 'command_status_nightly');
      expect(job).toMatchObject({ live: false, lastTrigger: 'schedule', schedule: { schedule: '* * * * * *', mode: 'rebuild' } });
      expect(Date.parse(job.schedule.nextRun)).not.toBeNaN();
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});

describe('eventlake serve: commits made beside the service', () => {
  it('shows what `eventlake run` beside it committed (a commit no live job told) without a restart', async () => {
    const server = await startServer({
      config: { domains: ['superchargers', 'orders'], jobs: [{ name: 'superchargers', projection: 'superchargers', live: false }] },
    });
    try {
      await waitReady(server);
      expect((await post(`${server.url}/commands`, registerCharger('BESIDE-1'))).status).toBe(202);
      const run = await eventlake(['--lake', server.lake, '--config', `${server.lake}/../jobs.config.json`, 'run', 'superchargers', '--json']);
      expect(run.code, run.stderr).toBe(0);
      await waitFor(async () => {
        const answer = await post(`${server.url}/query`, { sql: "SELECT count(*) AS n FROM superchargers WHERE supercharger_serial = 'BESIDE-1'" });
        return answer.body.rows?.[0]?.n === 1 || undefined;
      }, 'the row committed beside the service', 60_000);
      expect((await post(`${server.url}/commands`, registerCharger('BESIDE-2'))).status).toBe(202);
      expect((await eventlake(['--lake', server.lake, '--config', `${server.lake}/../jobs.config.json`, 'run', 'superchargers', '--json'])).code).toBe(0);
      await waitFor(async () => {
        const answer = await post(`${server.url}/query`, { sql: "SELECT count(*) AS n FROM superchargers WHERE supercharger_serial LIKE 'BESIDE-%'" });
        return answer.body.rows?.[0]?.n === 2 || undefined;
      }, 'the second row committed beside the service', 60_000);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
