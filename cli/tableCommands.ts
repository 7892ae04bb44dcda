import type { Command } from 'commander';
import { print } from './stdout.js';
import { vacuum } from '../lake/delta/deltaTable.js';
import { sealLog } from '../lake/log/sealedSegments.js';
import type { LakeLayout } from '../lake/layout.js';
import { listDeadLetters, resolveDeadLetters } from '../projections/deadLetters.js';
import type { EventlakeConfig } from '../projections/jobsConfig.js';
import { rollbackJob } from '../projections/rollback.js';
import { runJobs, selectJobs } from '../projections/runJobs.js';
import { buildViews } from '../views/viewsDatabase.js';
import { formatTable } from './output.js';

type Context = () => Promise<{ config: EventlakeConfig; layout: LakeLayout }>;

/** Housekeeping: rollback, dead letters, vacuum, sealing the log. */
export function registerTableCommands(program: Command, context: Context): void {
  program
    .command('rollback')
    .description('undo the last rebuild of a job: restore the table version before it (one commit)')
    .argument('<job>', 'job name')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, options: { json?: boolean }) => {
      const { config, layout } = await context();
      const result = await rollbackJob(layout, selectJobs(config, [name])[0]);
      await buildViews(config, layout);
      print(options.json ? JSON.stringify(result) : `${result.job}: restored table version ${result.restored} as version ${result.tableVersion}`);
    });

  program
    .command('deadletters')
    .description('list events a projection could not apply (all jobs, or one)')
    .argument('[job]', 'job name')
    .option('--json', 'print as JSON')
    .action(async (name: string | undefined, options: { json?: boolean }) => {
      const { config, layout } = await context();
      if (name) selectJobs(config, [name]);
      const letters = await listDeadLetters(layout, name);
      if (options.json) return void print(JSON.stringify(letters));
      const columns = ['job', 'stream', 'sequence', 'eventType', 'eventId', 'action', 'error', 'at'].map((c) => ({ name: c, type: c === 'sequence' ? 'BIGINT' : 'VARCHAR' }));
      print(formatTable({ columns, rows: letters as unknown as Record<string, unknown>[] }));
    });

  program
    .command('replay-deadletters')
    .description("retry a job's dead letters: rebuild it from the start (so events apply in order), halting on any that still fail")
    .argument('<job>', 'job name')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, options: { json?: boolean }) => {
      const { config, layout } = await context();
      const jobs = selectJobs(config, [name]);
      const before = (await listDeadLetters(layout, name)).length;
      const [result] = await runJobs(config, layout, jobs, { mode: 'rebuild', onError: 'halt' });
      await resolveDeadLetters(layout, name);
      const summary = { job: name, retried: before, applied: result.applied, tableVersion: result.tableVersion };
      print(options.json ? JSON.stringify(summary) : `${name}: ${before} dead letter(s) retried by a rebuild of ${result.applied} records; none failed`);
    });

  program
    .command('vacuum')
    .description('delete data files no longer in any table snapshot and older than the retention')
    .option('--retention-hours <hours>', 'keep unreferenced files younger than this', (v) => Number(v))
    .option('--json', 'print deleted files as JSON')
    .action(async (options: { retentionHours?: number; json?: boolean }) => {
      const { config, layout } = await context();
      const hours = options.retentionHours ?? config.retentionHours;
      const deleted: Record<string, string[]> = {};
      for (const job of config.jobs) {
        deleted[job.name] = await vacuum(layout.tableDir(job.output), { retentionMs: hours * 3_600_000 }).catch((error: Error) => {
          if (/not a Delta table/.test(error.message)) return [];
          throw error;
        });
      }
      if (options.json) return void print(JSON.stringify(deleted));
      for (const [job, files] of Object.entries(deleted)) print(`${job}: deleted ${files.length} file(s) (retention ${hours} h)`);
    });

  program
    .command('seal')
    .description("copy the log's committed events into Parquet (log/sealed/), so SQL projections rebuild at columnar speed")
    .option('--json', 'print {sealed: events per partition, held: {partition: {sequence, reason}}} as JSON')
    .action(async (options: { json?: boolean }) => {
      const { layout } = await context();
      const result = await sealLog(layout);
      if (options.json) return void print(JSON.stringify(result));
      const total = Object.values(result.sealed).reduce((a, b) => a + b, 0);
      print(`sealed ${total} events${total ? ` (${Object.entries(result.sealed).map(([s, n]) => `${s}: ${n}`).join(', ')})` : ''}`);
      for (const [stream, { sequence, reason }] of Object.entries(result.held)) print(`  ${stream}: held at sequence ${sequence} (read from NDJSON from there on): ${reason}`);
    });
}
