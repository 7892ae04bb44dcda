import fs from 'node:fs';
import path from 'node:path';
import { runChild } from '../childProcess.js';
import type { IngestTimes } from '../ingest.js';
import type { JobsInput, JobsTimes } from '../rebuild.js';
import { notMeasured, type BenchResult } from '../report.js';
import { headLines, writeBenchConfig } from '../workload.js';
import type { EmmettIngestInput, EmmettIngestTimes } from './emmettIngest.js';
import type { EmmettProjectInput, EmmettProjectTimes } from './emmettProjections.js';
import { ensurePostgres, startCluster } from './postgresCluster.js';

export interface PeerOptions {
  /** The run's command file; the peer takes its first `events` commands (one event each). */
  file: string;
  events: number;
  scratch: string;
  /** Concurrent command lanes for Emmett. */
  lanes: number;
  /** Events per batch of Emmett's projection rebuild. */
  batchSize: number;
  log: (line: string) => void;
}

/** The two read models both sides build: Emmett's Pongo projections and our jobs of the same name. */
const PEER_JOBS = ['superchargers', 'orders'];

/**
 * Figure 6: Emmett with its production backend (emmett-postgresql on a local PostgreSQL the bench
 * starts), next to eventlake, both on the same first K commands of the run and measured here, in
 * the same way: ingest = commands/s until durable, projection = events/s to rebuild the
 * superchargers and orders current-state read models from the whole store.
 */
export async function measurePeer(options: PeerOptions): Promise<{ results: BenchResult[]; details: unknown }> {
  const found = ensurePostgres(options.log);
  if ('skip' in found) {
    options.log(`peer skipped: ${found.skip}`);
    return { results: [notMeasured('peer ingest vs Emmett', 'commands/s', found.skip), notMeasured('peer projection vs Emmett', 'events/s', found.skip)], details: null };
  }
  const dir = path.join(options.scratch, 'peer');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'commands.ndjson');
  const commands = headLines(options.file, file, options.events);
  const text = fs.readFileSync(file, 'utf8');
  const expected = { superchargers: count(text, '"command_name":"RegisterSupercharger"'), orders: count(text, '"command_name":"CreateOrder"') };

  const config = writeBenchConfig(dir);
  const lake = path.join(dir, 'lake');
  options.log(`peer: eventlake on the first ${commands.toLocaleString('en-US')} commands ...`);
  const { result: ourIngest } = await runChild<IngestTimes>('ingest', { lake, config, file });
  const { result: ourRebuild } = await runChild<JobsTimes>('rebuild', { lake, config, mode: 'rebuild', jobs: PEER_JOBS } satisfies JobsInput);

  const cluster = await startCluster(found.binDir);
  let emmettIngest: EmmettIngestTimes;
  let emmettProject: EmmettProjectTimes;
  try {
    options.log(`peer: Emmett on ${cluster.version} (${options.lanes} concurrent command lanes) ...`);
    ({ result: emmettIngest } = await runChild<EmmettIngestTimes>('emmettIngest', { connectionString: cluster.connectionString, file, lanes: options.lanes } satisfies EmmettIngestInput));
    ({ result: emmettProject } = await runChild<EmmettProjectTimes>('emmettProject', { connectionString: cluster.connectionString, batchSize: options.batchSize } satisfies EmmettProjectInput));
  } finally {
    cluster.stop();
  }
  if (emmettIngest.events !== ourIngest.events) throw new Error(`Emmett stored ${emmettIngest.events} events, eventlake ${ourIngest.events}`);
  const documentsAgree = emmettProject.documents.superchargers === expected.superchargers && emmettProject.documents.orders === expected.orders;

  const ourCommands = ourIngest.commands / (ourIngest.ingestMs / 1000);
  const theirCommands = emmettIngest.commands / (emmettIngest.ms / 1000);
  const ourEvents = ourIngest.events / (ourRebuild.totalMs / 1000);
  const theirEvents = emmettIngest.events / (emmettProject.ms / 1000);
  return {
    details: { commands, ourIngest, ourRebuild, emmettIngest, emmettProject, expected, postgres: cluster.version },
    results: [
      {
        name: 'peer ingest vs Emmett',
        value: ourCommands,
        unit: 'commands/s',
        baseline: theirCommands,
        baselineLabel: `Emmett ${emmettVersion()} CommandHandler on emmett-postgresql (${cluster.version}, fsync and synchronous_commit on), ${options.lanes} concurrent lanes`,
        ratio: ourCommands / theirCommands,
        ratioMeaning: 'ours / Emmett',
        goal: 'ahead of Emmett (ratio > 1)',
        met: ourCommands > theirCommands,
        note: `both on the same first ${commands.toLocaleString('en-US')} commands of the run`,
      },
      {
        name: 'peer projection vs Emmett',
        value: ourEvents,
        unit: 'events/s',
        baseline: theirEvents,
        baselineLabel: `Emmett rebuildPostgreSQLProjections of Pongo single-stream projections (superchargers, orders), batch ${emmettProject.batchSize}`,
        ratio: ourEvents / theirEvents,
        ratioMeaning: 'ours / Emmett',
        goal: 'ahead of Emmett (ratio > 1)',
        met: ourEvents > theirEvents,
        note: `events / time to rebuild both current-state read models; ours runs the superchargers and orders jobs one after the other. ${
          documentsAgree
            ? `Emmett's documents match the expected counts (${expected.superchargers} superchargers, ${expected.orders} orders)`
            : `Emmett's rebuild made ${emmettProject.documents.superchargers} of ${expected.superchargers} superchargers and ${emmettProject.documents.orders} of ${expected.orders} orders: its batch puller reads in transaction-id order but resumes after the last global position, so events appended by concurrent writers are skipped at batch boundaries; it did less work than ours, so its rate is if anything flattered`
        }`,
      },
    ],
  };
}

function count(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) n += 1;
  return n;
}

function emmettVersion(): string {
  try {
    const file = new URL('../../../node_modules/@event-driven-io/emmett/package.json', import.meta.url);
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return '';
  }
}
