import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { eventlake } from '../support/cli.js';
import { openViewsInProcess } from '../support/queryInProcess.js';
import { post, startServer, waitCaughtUp, waitReady } from '../support/server.js';

/** Every view of the built-in domains, in an order that makes the answers comparable. */
const QUESTIONS = [
  'SELECT * FROM superchargers ORDER BY supercharger_serial',
  'SELECT * FROM supercharger_status_history ORDER BY supercharger_serial, valid_from',
  'SELECT * FROM daily_status_changes ORDER BY day, status',
  'SELECT * FROM vw_order_summary ORDER BY ALL',
  'SELECT * FROM vw_daily_order_metrics ORDER BY ALL',
  'SELECT * FROM order_status_history ORDER BY ALL',
  'SELECT status, count(*) AS n FROM command_status GROUP BY status ORDER BY status',
];

/**
 * The service answers from a base plus the rows each live batch changed, held in memory (never
 * read back from the tables). After many small live batches of every kind of read model (state,
 * history, combine, facts), its answers must be those of views built from the Delta tables alone
 * (`eventlake run` on a lake whose views database was removed): a delta applied wrongly (a row
 * hidden twice, a history row kept open, a combine double counted) shows as a difference. Both
 * ways of writing the tables: copy-on-write (default) and deletion vectors.
 */
describe.each([
  { tables: 'copy-on-write', deletionVectors: false, count: 400 },
  // Deletion vectors change what a batch commits (new rows and bitmaps, no rewritten files) and
  // so what the merges into views.duckdb record; fewer commands keep the run short.
  { tables: 'deletion vectors', deletionVectors: true, count: 100 },
])('eventlake serve: live answers equal views built from the tables ($tables)', ({ deletionVectors, count }) => {
  it(`after ${count / 10} live batches of mixed commands`, { timeout: 600_000 }, async () => {
    const server = await startServer({ args: ['--query-limit', '10000'], config: { domains: ['superchargers', 'orders'], deletionVectors } });
    const config = path.join(path.dirname(server.lake), 'jobs.config.json');
    const served: unknown[] = [];
    try {
      await waitReady(server);
      const commands = [...sampleNdjson({ count, seed: 11 })].map((line) => JSON.parse(line));
      for (let i = 0; i < commands.length; i += 10) {
        expect((await post(`${server.url}/commands`, commands.slice(i, i + 10))).status).toBeLessThan(500);
        // Now and then wait for the read side, so batches land in separate live passes.
        if (i % 40 === 0) await waitCaughtUp(server, 180_000);
      }
      await waitCaughtUp(server, 180_000);
      for (const sql of QUESTIONS) {
        const answer = await post(`${server.url}/query`, { sql });
        expect(answer.status, JSON.stringify(answer.body)).toBe(200);
        expect(answer.body.rowCount, sql).toBeGreaterThan(0);
        served.push(answer.body.rows);
      }
    } finally {
      expect(await server.stop()).toBe(0);
    }
    const answersOfCli = async () => {
      const run = await eventlake(['--lake', server.lake, '--config', config, 'run', '--json']);
      expect(run.code, run.stderr).toBe(0);
      // One real `eventlake query`; the other questions through the same functions in this
      // process (a spawn each cost 1-3 s, 28 of them most of this file's time).
      const cli = await eventlake(['--lake', server.lake, '--config', config, 'query', QUESTIONS[0], '--json']);
      expect(cli.code, cli.stderr).toBe(0);
      expect(normalized(served[0]), QUESTIONS[0]).toEqual(normalized(JSON.parse(cli.stdout)));
      const views = await openViewsInProcess({ config, lake: server.lake });
      try {
        for (const [i, sql] of QUESTIONS.entries()) expect(normalized(served[i]), sql).toEqual(normalized(await views.query(sql)));
      } finally {
        views.close();
      }
    };
    // views.duckdb as the service left it (its last merge), refreshed by a run from there: the
    // versions and files the merges recorded must be the ones its rows are.
    if (deletionVectors) {
      // The variant tests what it says: live batches deleted rows through deletion vectors.
      const log = path.join(server.lake, 'tables', 'superchargers', '_delta_log');
      const commits = fs.readdirSync(log).filter((f) => f.endsWith('.json')).map((f) => fs.readFileSync(path.join(log, f), 'utf8'));
      expect(commits.some((commit) => commit.includes('"deletionVector":{'))).toBe(true);
    }
    await answersOfCli();
    // Views from the tables alone: no views database to start from, nothing of the service's.
    fs.rmSync(path.join(server.lake, 'views.duckdb'), { force: true });
    fs.rmSync(path.join(server.lake, 'serving'), { recursive: true, force: true });
    await answersOfCli();
  });
});

/**
 * The service prints DuckDB's timestamp text ("2026-01-01 06:06:00"), the CLI ISO strings: compare
 * instants. Sums of doubles depend on the order rows are added in: compare 12 significant digits.
 */
function normalized(rows: unknown): unknown {
  return JSON.parse(JSON.stringify(rows), (_key, value) =>
    typeof value === 'number' && !Number.isInteger(value) ? Number(value.toPrecision(12)) : typeof value === 'string' && /^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d/.test(value) ? Date.parse(/[Z+]/.test(value.slice(10)) ? value : `${value.replace(' ', 'T')}Z`) : value,
  );
}
