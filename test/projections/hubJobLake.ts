/**
 * The lake, Event Hubs test server and jobs the hub job tests share (hubHandover, hubExpiry,
 * hubRefusals, hubJobOwnership): each test gets a fresh hub and lake. In each case the views must
 * equal those of the same jobs rebuilt from the lake log alone (`fromLakeAlone`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { sampleCommands } from '../../domains/sampleCommands.js';
import type { CommandInput } from '../../ingest/envelope.js';
import { Ingester } from '../../ingest/ingester.js';
import { loadSnapshot } from '../../lake/delta/deltaTable.js';
import { LakeLayout } from '../../lake/layout.js';
import { forwardOnce } from '../../lake/stream/eventHubsForwarder.js';
import { loadConfig, type EventlakeConfig } from '../../projections/jobsConfig.js';
import { runJobs } from '../../projections/runJobs.js';
import { queryViews } from '../../views/query.js';
import { start, type EventHubsServer } from '../servers/eventHubsServer.js';
import { tempDir } from '../support/cli.js';

export const LAKE_PARTITIONS = 3;
export const HUB_PARTITIONS = ['0', '1', '2', '3'];
export const HUB_JOBS = ['superchargers', 'supercharger_status_history', 'daily_status_changes', 'customers', 'orders', 'order_status_history'];
const VIEW_QUERIES = [
  'SELECT * FROM superchargers ORDER BY supercharger_serial',
  'SELECT * FROM supercharger_status_history ORDER BY supercharger_serial, valid_from',
  'SELECT * FROM daily_status_changes ORDER BY ALL',
  'SELECT * FROM vw_order_summary ORDER BY order_id',
  'SELECT * FROM vw_daily_order_metrics ORDER BY ALL',
];
export const commands = [...sampleCommands({ count: 800, seed: 47 })];

export interface HubJobLake {
  hub: EventHubsServer;
  dir: string;
  layout: LakeLayout;
  config: EventlakeConfig;
}

/** Registers a fresh hub (4 partitions) and lake around each test of the calling describe. */
export function useHubJobLake(): HubJobLake {
  const lake = {} as HubJobLake;
  beforeEach(async () => {
    lake.hub = await start({ partitions: 4 });
    lake.dir = tempDir('eventlake-hubjob-');
    lake.layout = new LakeLayout(path.join(lake.dir, 'lake'));
    lake.config = await writeConfig(lake, lake.layout.root, 'eventhubs');
  });
  afterEach(async () => {
    await lake.hub.close();
    fs.rmSync(lake.dir, { recursive: true, force: true });
  });
  return lake;
}

export async function writeConfig(lake: HubJobLake, root: string, source: 'lake' | 'eventhubs'): Promise<EventlakeConfig> {
  const file = path.join(lake.dir, `${source}-${path.basename(root)}.config.json`);
  const jobs = HUB_JOBS.map((name) => ({ name, projection: name, source }));
  fs.writeFileSync(file, JSON.stringify({ lake: root, eventHubs: { connectionString: lake.hub.connectionString }, log: { partitions: LAKE_PARTITIONS }, jobs }));
  return loadConfig({ config: file });
}

export async function ingest(lake: HubJobLake, batch: CommandInput[], maxCommandBytes?: number): Promise<void> {
  const ingester = await Ingester.open(lake.layout, lake.config.registry, { partitions: LAKE_PARTITIONS, maxCommandBytes });
  batch.forEach((command, i) => ingester.decide(command, `test:${i}`));
  await ingester.commit();
  await ingester.close();
}

export const forward = (lake: HubJobLake) => forwardOnce({ layout: lake.layout, eventHubs: { connectionString: lake.hub.connectionString }, readBatch: 40 });
export const run = (lake: HubJobLake, options: { mode?: 'rebuild' } = {}) => runJobs(lake.config, lake.layout, lake.config.jobs, options);

// Sums of doubles differ in the last bits with the order rows are added in: compare 12 digits.
const rounded = (rows: Record<string, unknown>[]) => JSON.parse(JSON.stringify(rows, (_, v) => (typeof v === 'number' ? Number(v.toPrecision(12)) : v)));
export const answers = async (at: LakeLayout) => Promise.all(VIEW_QUERIES.map(async (sql) => rounded((await queryViews(at, sql)).rows)));

/** The same jobs rebuilt from the lake log alone, in a copy of the lake: what the views must say. */
export async function fromLakeAlone(lake: HubJobLake) {
  const copy = path.join(lake.dir, `copy-${Date.now()}`);
  fs.cpSync(lake.layout.root, copy, { recursive: true });
  const lakeConfig = await writeConfig(lake, copy, 'lake');
  const copyLayout = new LakeLayout(copy);
  await runJobs(lakeConfig, copyLayout, lakeConfig.jobs, { mode: 'rebuild' });
  return answers(copyLayout);
}

/** Each job's last hub sequence applied per partition (-1: none). */
export const hubPositions = async (lake: HubJobLake) => Object.fromEntries(await Promise.all(lake.config.jobs.map(async (job) => {
  const snapshot = await loadSnapshot(lake.layout.tableDir(job.output));
  return [job.name, HUB_PARTITIONS.map((id) => snapshot.txns.get(`${job.name}@${job.definition.version}/hub:hub/${id}`)?.version ?? -1)];
})));
