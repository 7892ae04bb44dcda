import { Command, InvalidArgumentError, Option } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { describeTable } from '../lake/delta/deltaTable.js';
import { LakeLayout } from '../lake/layout.js';
import { readLogMeta } from '../lake/log/logMeta.js';
import { ingestNdjson } from '../ingest/fileIngest.js';
import { DEFAULT_DECIDERS } from '../ingest/deciderPool.js';
import { Ingester } from '../ingest/ingester.js';
import { jobStatus } from '../projections/jobStatus.js';
import { consumersWithinHead } from '../projections/logConsumers.js';
import { loadConfig, type EventlakeConfig } from '../projections/jobsConfig.js';
import { runJobs, selectJobs } from '../projections/runJobs.js';
import { withIsoTimestamps } from '../views/isoTimestamps.js';
import { queryViews } from '../views/query.js';
import { resolveServiceConfig, SERVICE_DEFAULTS, TOKEN_ENV } from '../service/serviceConfig.js';
import { formatCsv, formatTable } from './output.js';
import { registerConsumeCommand, registerStreamCommands } from './streamCommands.js';
import { registerLogCommands } from './logCommands.js';
import { registerTableCommands } from './tableCommands.js';
import { registerTsqlCommand } from './tsqlCommand.js';
import { initProject } from './init.js';
import { parseMemory } from '../projections/memoryBudget.js';
import { packageInfo } from './packageInfo.js';
import { ingestProgress, progressBar } from './progress.js';
import { print } from './stdout.js';

interface GlobalOptions {
  lake?: string;
  config?: string;
}

/** The CLI: a thin shell over the same functions the server uses. */
const program = new Command('eventlake')
  .description('CQRS / event-sourcing pipeline for analytics on a data lake')
  .version(packageInfo().version, '-V, --version', 'print the version')
  .option('--lake <dir>', 'lake folder (default: from config, else ./lake)')
  .option('--config <file>', 'jobs config (default: ./jobs.config.json)')
  .showHelpAfterError();

/**
 * The config and the lake. Only `ingest` and `serve` may create a lake (`create`); every other
 * command refuses one that does not exist, naming where it looked: `--lake ./typo run` once made
 * an empty lake and exited 0.
 */
async function context(options: { create?: boolean; memory?: string } = {}): Promise<{ config: EventlakeConfig; layout: LakeLayout }> {
  const config = await loadConfig(program.opts<GlobalOptions>());
  if (options.memory !== undefined) config.memory = parseMemory(options.memory);
  const layout = new LakeLayout(config.lakeDir, config.stateDir ?? undefined);
  if (!options.create && !(await readLogMeta(layout))) {
    throw new Error(`no lake at ${layout.root} (${layout.metaFile} does not exist): check --lake or the config's "lake" (${config.file ?? 'no config file'}); \`eventlake ingest\` creates a lake`);
  }
  return { config, layout };
}

/** The options the log writer gets from the CLI: refuse to open while a reader is past its head. */
function writerOptions(config: EventlakeConfig, layout: LakeLayout) {
  return { partitions: config.partitions, ...config.limits, verifyHead: consumersWithinHead(layout, config.jobs) };
}

program
  .command('ingest')
  .description('ingest commands from an NDJSON file (or - for stdin)')
  .argument('<file>', 'NDJSON file, or - for standard input')
  .option('--json', 'print the summary as JSON')
  .option('--deciders <n>', `threads deciding commands, each owning a set of log partitions (default ${DEFAULT_DECIDERS})`, (value) => Number(value), Number(process.env.EVENTLAKE_INGEST_DECIDERS ?? DEFAULT_DECIDERS))
  .action(async (file: string, options: { json?: boolean; deciders: number }) => {
    const { config, layout } = await context({ create: true });
    if (!Number.isInteger(options.deciders) || options.deciders < 1) throw new Error(`--deciders: a whole number from 1, not ${options.deciders}`);
    const fromStdin = file === '-';
    if (!fromStdin && !fs.existsSync(file)) throw new Error(`no such file: ${file}`);
    const ingester = await Ingester.open(layout, config.registry, writerOptions(config, layout));
    const bar = ingestProgress(fromStdin ? 0 : fs.statSync(file).size);
    try {
      const input = fromStdin ? process.stdin : fs.createReadStream(file);
      const summary = await ingestNdjson(ingester, input, fromStdin ? 'stdin' : path.basename(file), { deciders: options.deciders, onProgress: (bytes, commands) => bar.update(bytes, commands) });
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
  .option('--memory <size>', 'memory the jobs\' row caches and DuckDB share, spilling to disk beyond it (e.g. 1GB; default: config "memory", else 768MB)')
  .action(async (names: string[], options: { json?: boolean; memory?: string }) => {
    const { config, layout } = await context({ memory: options.memory });
    await runAndReport(config, layout, selectJobs(config, names), 'incremental', options.json);
  });

program
  .command('rebuild')
  .description('rebuild a job from the start of the log beside the live table, then switch in one commit')
  .argument('<job>', 'job name')
  .option('--json', 'print the result as JSON')
  .option('--memory <size>', 'memory the jobs\' row caches and DuckDB share, spilling to disk beyond it (e.g. 1GB; default: config "memory", else 1GB)')
  .action(async (name: string, options: { json?: boolean; memory?: string }) => {
    const { config, layout } = await context({ memory: options.memory });
    await runAndReport(config, layout, selectJobs(config, [name]), 'rebuild', options.json);
  });

async function runAndReport(config: EventlakeConfig, layout: LakeLayout, jobs: ReturnType<typeof selectJobs>, mode: 'incremental' | 'rebuild', json?: boolean) {
  let bar = progressBar('', 0);
  const results = await runJobs(config, layout, jobs, {
    mode,
    onJob: (jobs) => {
      bar.stop();
      bar = progressBar(`${jobs.length} job(s)`.padEnd(12), 0);
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
  .option('--as-of <time>', 'time travel: every read model as it was at this time (ISO-8601)')
  // Not variadic: a variadic option took the SQL after it as one more job=version.
  .option('--table-version <job=version>', 'time travel: a job\'s table at a Delta version (repeatable)', (pair: string, pairs: string[] = []) => [...pairs, pair])
  .action(async (sql: string, options: { json?: boolean; csv?: boolean; asOf?: string; tableVersion?: string[] }) => {
    const { config, layout } = await context();
    const result = await queryViews(layout, sql, timeTravel(config, options), config);
    print(options.json ? JSON.stringify(withIsoTimestamps(result.columns, result.rows)) : options.csv ? formatCsv(result) : formatTable(result));
  });

/** `--as-of` / `--table-version` as a snapshot choice per job, or undefined for the live views. */
function timeTravel(config: EventlakeConfig, options: { asOf?: string; tableVersion?: string[] }) {
  if (!options.asOf && !options.tableVersion) return undefined;
  const timestamp = options.asOf === undefined ? undefined : Date.parse(options.asOf);
  if (timestamp !== undefined && Number.isNaN(timestamp)) throw new Error(`--as-of: not a date-time: ${options.asOf}`);
  const versions = new Map(
    (options.tableVersion ?? []).map((pair) => {
      const [job, version] = pair.split('=');
      selectJobs(config, [job]);
      if (!/^\d+$/.test(version ?? '')) throw new Error(`--table-version ${pair}: expected job=version`);
      return [job, Number(version)] as const;
    }),
  );
  return { config, at: (job: string) => (versions.has(job) ? { version: versions.get(job) } : timestamp === undefined ? {} : { timestamp }) };
}

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
      dead_letters: s.deadLetters,
      error: s.error ?? '',
      last_error: s.lastError ?? '',
      warning: s.warning ?? '',
    }));
    const types: Record<string, string> = { table_version: 'BIGINT', checkpoint: 'BIGINT', lag_events: 'BIGINT', lag_seconds: 'DOUBLE', dead_letters: 'BIGINT' };
    print(formatTable({ columns: Object.keys(rows[0] ?? { job: '' }).map((name) => ({ name, type: types[name] ?? 'VARCHAR' })), rows }));
    const oversized = new Map(statuses.flatMap((s) => s.hubOversized ?? []).map((o) => [`${o.stream}/${o.sequence}`, o]));
    for (const o of oversized.values()) {
      print(`oversized: lake event ${o.stream}/${o.sequence} (${o.eventType} ${o.aggregateId}, ${o.bytes} bytes > ${o.limit}) went to the hub as a claim check; hub jobs read it from the lake`);
    }
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

const integer = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('not an integer');
  return n;
};

interface ServeOptions {
  host: string;
  port: number;
  token?: string;
  interval: number;
  maxBatch: number;
  bodyLimit: number;
  bodyBudget: number;
  headerTimeout: number;
  requestTimeout: number;
  maxConnections: number;
  drainTimeout: number;
  queryLimit: number;
  queryTimeout: number;
  queryConcurrency: number;
  queryQueue: number;
  queryMemory: number;
  queryMaxBytes: number;
  sampleInterval: number;
  live: boolean;
  scheduler: boolean;
  forward?: boolean;
  unhealthyAfter: number;
}

program
  .command('serve')
  .description('HTTP service: POST /commands, GET /commands/:id, POST /query, /status, /metrics, a status page; runs live and scheduled jobs')
  .option('--host <host>', 'interface to listen on (not loopback: a token is required)', SERVICE_DEFAULTS.host)
  .option('--port <port>', 'TCP port (0: any free port; the URL is printed first)', integer, SERVICE_DEFAULTS.port)
  .option('--token <token>', `API token for commands and queries (better: the ${TOKEN_ENV} environment variable)`)
  .option('--interval <ms>', 'live projections: poll the log this often, besides on each commit', integer, SERVICE_DEFAULTS.liveIntervalMs)
  .option('--max-batch <n>', 'most commands in one POST /commands array', integer, SERVICE_DEFAULTS.maxBatch)
  .option('--body-limit <bytes>', 'largest request body', integer, SERVICE_DEFAULTS.bodyLimit)
  .option('--body-budget <bytes>', 'request bodies in flight at once, all requests together', integer, SERVICE_DEFAULTS.bodyBudget)
  .option('--header-timeout <ms>', "close a connection whose request's headers took longer than this", integer, SERVICE_DEFAULTS.headerTimeoutMs)
  .option('--request-timeout <ms>', 'close a connection whose request (headers and body) took longer than this to arrive', integer, SERVICE_DEFAULTS.requestTimeoutMs)
  .option('--max-connections <n>', 'most connections open at once', integer, SERVICE_DEFAULTS.maxConnections)
  .option('--drain-timeout <ms>', 'on SIGTERM, cut off requests still unfinished after this long', integer, SERVICE_DEFAULTS.drainTimeoutMs)
  .option('--query-limit <rows>', 'default and largest row count of POST /query', integer, SERVICE_DEFAULTS.queryRowLimit)
  .option('--query-timeout <ms>', 'stop a query not answered this long after it arrived (waiting included)', integer, SERVICE_DEFAULTS.queryTimeoutMs)
  .option('--query-concurrency <n>', 'queries run at once, each in a query process of its own', integer, SERVICE_DEFAULTS.queryConcurrency)
  .option('--query-queue <n>', 'queries waiting for a free query process; more are answered 503', integer, SERVICE_DEFAULTS.queryQueue)
  .option('--query-memory <MiB>', 'memory a query process may hold (RSS): half DuckDB, half converting results', integer, SERVICE_DEFAULTS.queryMemoryMb)
  .option('--query-max-bytes <bytes>', 'largest query answer (JSON rows); a larger one is refused', integer, SERVICE_DEFAULTS.queryMaxBytes)
  .option('--sample-interval <ms>', 'lag history sample period (status page chart)', integer, SERVICE_DEFAULTS.sampleIntervalMs)
  .option('--no-live', 'do not run live projections (leave the read side to `eventlake run`)')
  .option('--no-scheduler', 'do not run jobs on their cron schedule')
  .option('--forward', 'also run the outbox forwarder to Event Hubs (config "eventHubs")')
  .option('--unhealthy-after <seconds>', '/healthz fails once the log writer has been down this long without recovering', integer, SERVICE_DEFAULTS.unhealthyAfterMs / 1000)
  .option('--memory <size>', 'memory the jobs\' row caches and DuckDB share, spilling to disk beyond it (e.g. 1GB; default: config "memory", else 1GB)')
  .action(async (options: ServeOptions & { memory?: string }) => {
    const serviceConfig = resolveServiceConfig({
      host: options.host,
      port: options.port,
      token: options.token,
      liveIntervalMs: options.interval,
      maxBatch: options.maxBatch,
      bodyLimit: options.bodyLimit,
      bodyBudget: options.bodyBudget,
      headerTimeoutMs: options.headerTimeout,
      requestTimeoutMs: options.requestTimeout,
      maxConnections: options.maxConnections,
      drainTimeoutMs: options.drainTimeout,
      queryRowLimit: options.queryLimit,
      queryTimeoutMs: options.queryTimeout,
      queryConcurrency: options.queryConcurrency,
      queryQueue: options.queryQueue,
      queryMemoryMb: options.queryMemory,
      queryMaxBytes: options.queryMaxBytes,
      sampleIntervalMs: options.sampleInterval,
      live: options.live,
      scheduler: options.scheduler,
      forward: options.forward ?? false,
      unhealthyAfterMs: options.unhealthyAfter * 1000,
    });
    const { config, layout } = await context({ create: true, memory: options.memory });
    // The service's modules (fastify, prom-client) load only for `serve`: the other commands start faster.
    const { serve } = await import('../service/serve.js');
    await serve(config, layout, serviceConfig, print);
    process.exit(0);
  });

program
  .command('init')
  .description('scaffold a project with a sample domain in TypeScript, its tests and a jobs config')
  .argument('[dir]', 'folder to create (must be new or empty)', '.')
  .option('--dependency <spec>', 'how the project depends on eventlake: a version range, a tarball or a git URL (default: ^this version)')
  .action(async (dir: string, options: { dependency?: string }) => {
    const files = await initProject(dir, options);
    print(`created ${path.resolve(dir)}: ${files.join(', ')}`);
    print(`next: ${dir === '.' ? '' : `cd ${dir} && `}npm install && npm test`);
  });

registerTableCommands(program, context);
registerLogCommands(program, context);
registerStreamCommands(program, context);
registerConsumeCommand(program, context);
registerTsqlCommand(program);

program.parseAsync().catch((error: Error) => {
  process.stderr.write(`eventlake: ${error.message}\n`);
  process.exit(1);
});
