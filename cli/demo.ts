import fs from 'node:fs';
import path from 'node:path';
import { sampleNdjson } from '../domains/sampleCommands.js';
import { ingestNdjson } from '../ingest/fileIngest.js';
import { Ingester } from '../ingest/ingester.js';
import { LakeLayout } from '../lake/layout.js';
import { loadConfig } from '../projections/jobsConfig.js';
import { runJobs } from '../projections/runJobs.js';
import { queryViews } from '../views/query.js';
import { formatTable } from './output.js';

/**
 * `npm start`: the whole pipeline on the embedded default, in seconds. Generates sample commands
 * for both example domains, ingests them, runs every projection job, builds the views database
 * and asks it a few questions.
 */
async function demo(): Promise<void> {
  const started = Date.now();
  const lakeDir = path.resolve(process.env.EVENTLAKE_DEMO_LAKE ?? 'demo-lake');
  fs.rmSync(lakeDir, { recursive: true, force: true });
  fs.mkdirSync(lakeDir, { recursive: true });
  const commandsFile = path.join(lakeDir, 'commands.ndjson');
  fs.writeFileSync(commandsFile, `${[...sampleNdjson({ count: 20_000, stepSeconds: 30, invalidShare: 0.02 })].join('\n')}\n`);

  const config = await loadConfig({ lake: lakeDir });
  const layout = new LakeLayout(lakeDir);
  const ingester = await Ingester.open(layout, config.registry, { partitions: config.partitions, ...config.limits });
  const summary = await ingestNdjson(ingester, fs.createReadStream(commandsFile), 'commands.ndjson').finally(() => ingester.close());
  say(`ingested ${commandsFile}: ${summary.accepted} accepted, ${summary.rejected} rejected (${summary.events} events)`);

  const results = await runJobs(config, layout, config.jobs);
  say(`ran ${results.length} projection jobs: ${results.map((r) => `${r.job} (${r.applied})`).join(', ')}`);

  const midpoint = await queryViews(layout, "SELECT CAST(min(registered_at) + (max(registered_at) - min(registered_at)) / 2 AS VARCHAR) AS t FROM superchargers");
  const asOf = String(midpoint.rows[0].t).slice(0, 19);
  await show(layout, 'Superchargers by status, now', 'SELECT status, count(*) AS superchargers FROM superchargers GROUP BY status ORDER BY status');
  await show(layout, `The same as of ${asOf}`, `SELECT status, count(*) AS superchargers FROM superchargers_as_of(TIMESTAMP '${asOf}') GROUP BY status ORDER BY status`);
  await show(layout, 'Daily order metrics', 'SELECT * FROM vw_daily_order_metrics ORDER BY order_date LIMIT 7');
  await show(layout, 'Rejected commands by code', "SELECT code, count(*) AS commands FROM command_status WHERE status = 'rejected' GROUP BY code ORDER BY code");

  say(`lake:  ${lakeDir}`);
  say(`views: ${layout.viewsDatabase} (open it with any DuckDB client)`);
  say(`try:   npx eventlake --lake ${path.relative(process.cwd(), lakeDir)} query "SELECT * FROM vw_order_summary LIMIT 5"`);
  say(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

async function show(layout: LakeLayout, title: string, sql: string): Promise<void> {
  say(`\n${title}\n${formatTable(await queryViews(layout, sql))}\n`);
}

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

demo().catch((error: Error) => {
  process.stderr.write(`demo failed: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
