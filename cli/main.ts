import { Command, Option } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { describeTable } from '../lake/delta/deltaTable.js';
import { LakeLayout } from '../lake/layout.js';
import { ingestNdjson } from '../ingest/fileIngest.js';
import { Ingester } from '../ingest/ingester.js';
import { jobStatus } from '../projections/jobStatus.js';
import { loadConfig, type EventlakeConfig } from '../projections/jobsConfig.js';
import { runJobs, selectJobs } from '../projections/runJobs.js';
import { queryViews } from '../views/query.js';
import { formatCsv, formatTable } from './output.js';
import { progressBar } from './progress.js';

interface GlobalOptions {
  lake?: string;
  config?: string;
}

/** The CLI: a thin shell over the same functions the server uses. */
const program = new Command('eventlake')
  .description('CQRS / event-sourcing pipeline for analytics on a data lake')
  .option('--lake <dir>', 'lake folder (default: from config, else ./lake)')
  .option('--config <file>', 'jobs config (default: ./jobs.config.json)')
  .showHelpAfterError();

async function context(): Promise<{ config: EventlakeConfig; layout: LakeLayout }> {
  const options = program.opts<GlobalOptions>();
  const config = await loadConfig(options);
  return { config, layout: new LakeLayout(config.lakeDir) };
}

const print = (text: string) => process.stdout.write(`${text}\n`);

program
  .command('ingest')
  .description('ingest commands from an NDJSON file (or - for stdin)')
  .argument('<file>', 'NDJSON file, or - for standard input')
  .option('--json', 'print the summary as JSON')
  .action(async (file: string, options: { json?: boolean }) => {
    const { config, layout } = await context();
    const fromStdin = file === '-';
    if (!fromStdin && !fs.existsSync(file)) throw new Error(`no such file: ${file}`);
    const ingester = await Ingester.open(layout, config.registry, { partitions: config.partitions });
    const bar = progressBar('ingest', fromStdin ? 0 : fs.statSync(file).size);
    try {
      const input = fromStdin ? process.stdin : fs.createReadStream(file);
      const summary = await ingestNdjson(ingester, input, fromStdin ? 'stdin' : path.basename(file), { onProgress: (bytes) => bar.update(bytes) });
      bar.stop();
      if (options.json) print(JSON.stringify(summary));
      else {
        print(`accepted ${summary.accepted}, rejected ${summary.rejected}, duplicates ${summary.duplicates}, events ${summary.events}`);
        for (const e of summary.errors.slice(0, 20)) print(`  line ${e.line} [${e.code}] ${e.command_id ?? '-'}: ${e.message}`);
        if (summary.errors.length > 20) print(`  ... ${summary.errors.length - 20} more (use --json for all)`);
      }
    } finally {
      bar.stop();
      await ingester.close();
    }
  });

program
  .command('run')
  .description('run projection jobs to the end of the log (all jobs when none are named)')
  .argument('[jobs...]', 'job names')
  .option('--json', 'print results as JSON')
  .action(async (names: string[], options: { json?: boolean }) => {
    const { config, layout } = await context();
    await runAndReport(config, layout, selectJobs(config, names), 'incremental', options.json);
  });

program
  .command('rebuild')
  .description('rebuild a job from the start of the log beside the live table, then switch in one commit')
  .argument('<job>', 'job name')
  .option('--json', 'print the result as JSON')
  .action(async (name: string, options: { json?: boolean }) => {
    const { config, layout } = await context();
    await runAndReport(config, layout, selectJobs(config, [name]), 'rebuild', options.json);
  });

async function runAndReport(config: EventlakeConfig, layout: LakeLayout, jobs: ReturnType<typeof selectJobs>, mode: 'incremental' | 'rebuild', json?: boolean) {
  let bar = progressBar('', 0);
  const results = await runJobs(config, layout, jobs, {
    mode,
    onJob: (job) => {
      bar.stop();
      bar = progressBar(job.name.padEnd(28), 0);
    },
    onProgress: (applied, backlog) => bar.update(applied, backlog),
  });
  bar.stop();
  if (json) return print(JSON.stringify(results));
  for (const r of results) print(`${r.job}: ${mode === 'rebuild' ? 'rebuilt from' : 'applied'} ${r.applied} records in ${r.commits} commit(s), table version ${r.tableVersion}`);
  print(`views: ${layout.viewsDatabase}`);
}

program
  .command('query')
  .description('run read-only SQL against the views')
  .argument('<sql>', 'one SELECT statement')
  .addOption(new Option('--json', 'print an array of row objects').conflicts('csv'))
  .option('--csv', 'print CSV')
  .action(async (sql: string, options: { json?: boolean; csv?: boolean }) => {
    const { layout } = await context();
    const result = await queryViews(layout, sql);
    print(options.json ? JSON.stringify(result.rows) : options.csv ? formatCsv(result) : formatTable(result));
  });

program
  .command('status')
  .description('per job: checkpoint, lag in events and seconds')
  .option('--json', 'print as JSON')
  .action(async (options: { json?: boolean }) => {
    const { config, layout } = await context();
    const statuses = await Promise.all(config.jobs.map((job) => jobStatus(layout, job)));
    if (options.json) {
      print(JSON.stringify(statuses));
      return;
    }
    const rows = statuses.map((s) => ({
      job: s.job,
      version: `${s.projection}@${s.projectionVersion}`,
      table_version: s.tableVersion,
      checkpoint: Object.values(s.checkpoint).reduce((a, b) => a + b, 0),
      lag_events: s.lagEvents,
      lag_seconds: s.lagSeconds,
      last_run: s.lastRun ?? 'never',
    }));
    const types: Record<string, string> = { table_version: 'BIGINT', checkpoint: 'BIGINT', lag_events: 'BIGINT', lag_seconds: 'DOUBLE' };
    print(formatTable({ columns: Object.keys(rows[0] ?? { job: '' }).map((name) => ({ name, type: types[name] ?? 'VARCHAR' })), rows }));
  });

program
  .command('table')
  .description('inspect a Delta table: version, schema, active files, row count')
  .argument('<path>', 'table folder (or a table name in the lake)')
  .option('--version <n>', 'as of this table version', (v) => Number.parseInt(v, 10))
  .option('--json', 'print {version, files, rows, schema}')
  .action(async (target: string, options: { version?: number; json?: boolean }) => {
    const dir = fs.existsSync(target) ? target : (await context()).layout.tableDir(target);
    const description = await describeTable(dir, options.version === undefined ? {} : { version: options.version });
    if (options.json) {
      print(JSON.stringify(description));
      return;
    }
    print(`table ${path.resolve(dir)} at version ${description.version}: ${description.rows} rows in ${description.files.length} files`);
    for (const field of description.schema) print(`  ${field.name} ${field.type}`);
  });

program.parseAsync().catch((error: Error) => {
  process.stderr.write(`eventlake: ${error.message}\n`);
  process.exit(1);
});
