import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { loadSnapshot, readCommit } from '../../lake/delta/deltaTable.js';
import { LakeLayout } from '../../lake/layout.js';
import { eventlake, eventlakeJson, tempDir, writeNdjson } from '../support/cli.js';
import { openViewsInProcess } from '../support/queryInProcess.js';
import { expectedFrom, ordersAsOf, superchargersAsOf, type Expected } from '../support/referenceModel.js';

/**
 * Many small batches: every batch MERGEs into the tables (rewriting the files of the keys it
 * touches) and compaction merges the small files. The views read the tables as they are, so every
 * view must answer as the independent reference model says: after compaction, with batches
 * committed after it, and when travelling back to the compacted versions.
 */
const JOBS = ['superchargers', 'supercharger_status_history', 'customers', 'orders', 'order_status_history'];
const AS_OF = ['2026-01-01 00:30:30', '2026-01-02 12:00:30', '2026-01-03 01:59:30', '2026-01-03 04:10:30', '2026-01-05 00:00:00'];

describe('views over compacted read models', () => {
  const dir = tempDir();
  const config = path.join(dir, 'jobs.config.json');
  const lake = path.join(dir, 'lake');
  const lines = [...sampleNdjson({ count: 3500, seed: 5 })];
  const tableDir = (job: string) => new LakeLayout(lake).tableDir(job);
  /**
   * The views are asked 14 questions per check: in this process, the views opened once per check
   * (the same functions as `eventlake query`); one real `eventlake query` below shows the CLI
   * answers the same.
   */
  const expectViewsAt = async (expected: Expected, tableVersions: string[] = []) => {
    const views = await openViewsInProcess({ config, tableVersions });
    try {
      await expectViewsToMatch((sql) => views.query(sql), expected);
      return await views.query(SUMMARY);
    } finally {
      views.close();
    }
  };
  const cliQuery = <T = any>(sql: string, extra: string[] = []) => eventlakeJson<T[]>(['--config', config, 'query', sql, ...extra]);
  const SUMMARY = 'SELECT * FROM vw_order_summary ORDER BY order_id';
  const ingestAndRun = async (part: string[], name: string) => {
    await eventlakeJson(['--config', config, 'ingest', writeNdjson(path.join(dir, name), part)]);
    const run = await eventlake(['--config', config, 'run']);
    expect(run.code, run.stderr).toBe(0);
  };
  let compactedVersions: string[];

  beforeAll(async () => {
    // Batches of 100 log records: the first 3,000 commands make well over 24 files per table.
    fs.writeFileSync(config, JSON.stringify({ lake: './lake', jobs: JOBS.map((name) => ({ name, projection: name, batchSize: 100 })) }));
    // A first run builds each table in one commit; the next run's batches each MERGE.
    await ingestAndRun(lines.slice(0, 100), 'zero.ndjson');
    await ingestAndRun(lines.slice(100, 3000), 'first.ndjson');
  }, 300_000);

  it('after many batches and a compaction, the views match the reference', async () => {
    const history = await loadSnapshot(tableDir('order_status_history'));
    const operations = await Promise.all(Array.from({ length: history.version + 1 }, async (_, v) => (await readCommit(tableDir('order_status_history'), v)).flatMap((a) => ('commitInfo' in a ? [a.commitInfo.operation] : []))));
    expect(operations.flat()).toContain('OPTIMIZE');
    const summary = await expectViewsAt(expectedFrom(lines.slice(0, 3000)));
    expect(await cliQuery(SUMMARY)).toEqual(summary);
  });

  it('with batches committed after the compaction, the views still match the reference', async () => {
    compactedVersions = await Promise.all(JOBS.map(async (job) => `${job}=${(await loadSnapshot(tableDir(job))).version}`));
    await ingestAndRun(lines.slice(3000), 'second.ndjson');
    await expectViewsAt(expectedFrom(lines));
  });

  it('time travel to the compacted versions answers as the lake was then', async () => {
    const summary = await expectViewsAt(expectedFrom(lines.slice(0, 3000)), compactedVersions);
    const travel = compactedVersions.flatMap((v) => ['--table-version', v]);
    expect(await cliQuery(SUMMARY, travel)).toEqual(summary);
  });
});

async function expectViewsToMatch(query: <T = any>(sql: string) => Promise<T[]>, expected: Expected): Promise<void> {
  const chargers = await query('SELECT supercharger_serial, status, version FROM superchargers');
  expect(new Map(chargers.map((r) => [r.supercharger_serial, `${r.status}/${r.version}`]))).toEqual(
    new Map([...expected.superchargers].map(([serial, s]) => [serial, `${s.status}/${s.version}`])),
  );
  const history = await query("SELECT supercharger_serial, status, strftime(valid_from, '%Y-%m-%dT%H:%M:%S.000Z') AS f, strftime(valid_to, '%Y-%m-%dT%H:%M:%S.000Z') AS t FROM supercharger_status_history");
  const asText = (h: { serial: string; status: string; from: string; to: string | null }) => `${h.serial}|${h.status}|${h.from}|${h.to}`;
  expect(history.map((r) => asText({ serial: r.supercharger_serial, status: r.status, from: r.f, to: r.t })).sort()).toEqual(expected.history.map(asText).sort());
  for (const ts of AS_OF) {
    const stations = await query(`SELECT supercharger_serial, status FROM superchargers_as_of(TIMESTAMP '${ts}')`);
    expect(new Map(stations.map((r) => [r.supercharger_serial, r.status])), ts).toEqual(superchargersAsOf(expected, ts));
    const orders = await query(`SELECT order_id, status FROM orders_as_of(TIMESTAMP '${ts}')`);
    expect(new Map(orders.map((r) => [r.order_id, r.status])), ts).toEqual(ordersAsOf(expected, ts));
  }
  const summary = await query('SELECT order_id, status, customer_name FROM vw_order_summary');
  expect(new Map(summary.map((r) => [r.order_id, `${r.status}/${r.customer_name}`]))).toEqual(
    new Map([...expected.orders].map(([id, o]) => [id, `${o.status}/${expected.customers.get(o.customer_id) ?? null}`])),
  );
  const [{ n }] = await query('SELECT count(*) AS n FROM order_status_history');
  expect(n).toBe([...expected.orders.values()].reduce((sum, o) => sum + o.history.length, 0));
}
