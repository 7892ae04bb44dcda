import type { Command } from 'commander';
import { print } from './stdout.js';
import type { LakeLayout } from '../lake/layout.js';
import { forwardOnce, runForwarder } from '../lake/stream/eventHubsForwarder.js';
import { openOwnershipStore } from '../projections/hubOwnership.js';
import { runHubJobs } from '../projections/hubRunner.js';
import type { EventlakeConfig } from '../projections/jobsConfig.js';
import { selectJobs } from '../projections/runJobs.js';
import { buildViews } from '../views/viewsDatabase.js';

type Context = () => Promise<{ config: EventlakeConfig; layout: LakeLayout }>;

/** The outbox (lake log to Event Hubs), and jobs reading Event Hubs live. */
export function registerStreamCommands(program: Command, context: Context): void {
  program
    .command('forward')
    .description('publish the lake log\'s events to Event Hubs (config "eventHubs", or EVENTLAKE_EVENTHUBS_CONNECTION_STRING)')
    .option('--follow', 'keep forwarding new events until stopped (SIGTERM/SIGINT)')
    .option('--interval <ms>', 'with --follow: poll the log this often when idle', (v) => Number(v), 1000)
    .option('--json', 'print the result as JSON')
    .action(async (options: { follow?: boolean; interval: number; json?: boolean }) => {
      const { config, layout } = await context();
      if (!options.follow) {
        const result = await forwardOnce({ layout, eventHubs: config.eventHubs });
        print(options.json ? JSON.stringify(result) : `forwarded ${result.sent} events to ${result.hub} in ${result.batches} batches`);
        return;
      }
      const stop = new AbortController();
      for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => stop.abort());
      const totals = await runForwarder(
        { layout, eventHubs: config.eventHubs, intervalMs: options.interval, onError: (error) => process.stderr.write(`eventlake forward: ${error.message}\n`) },
        stop.signal,
      );
      print(options.json ? JSON.stringify(totals) : `forwarded ${totals.sent} events in ${totals.rounds} rounds`);
    });
}

/** While jobs consume, the views are rebuilt at most this often, and only after new commits. */
const VIEWS_EVERY_MS = 1000;

export function registerConsumeCommand(program: Command, context: Context): void {
  program
    .command('consume')
    .argument('[jobs...]', 'jobs to run (default: every job with source "eventhubs")')
    .description('run jobs whose source is "eventhubs" from Event Hubs until stopped (SIGTERM/SIGINT): one reader of the hub feeds every job; instances (running the same jobs) share the partitions through eventHubs.ownership')
    .option('--json', 'print the totals as JSON')
    .action(async (names: string[], options: { json?: boolean }) => {
      const { config, layout } = await context();
      const jobs = selectJobs(config, names).filter((job) => job.source === 'eventhubs');
      if (jobs.length === 0) throw new Error('no job with source "eventhubs" to consume; set "source": "eventhubs" on a job in the config');
      const stop = new AbortController();
      for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => stop.abort());
      let viewsStale = false;
      let building: Promise<unknown> = Promise.resolve();
      // One build at a time: each builds aside under the same temp name before renaming it in.
      const refreshViews = () => {
        building = building.then(() => buildViews(config, layout)).catch((error: Error) => process.stderr.write(`eventlake consume: views: ${error.message}\n`));
        return building;
      };
      const views = setInterval(() => {
        if (!viewsStale) return;
        viewsStale = false;
        void refreshViews();
      }, VIEWS_EVERY_MS);
      try {
        const ownership = await openOwnershipStore(config.eventHubs?.ownership);
        const results = await runHubJobs(layout, jobs, {
          eventHubs: config.eventHubs,
          ownership,
          onCommit: () => { viewsStale = true; },
          onError: (failed, error) => process.stderr.write(`eventlake consume: ${failed.map((job) => job.name).join(', ')}: ${error.message}\n`),
        }, stop.signal);
        clearInterval(views);
        await refreshViews();
        print(options.json ? JSON.stringify(results) : results.map((r) => `${r.job}: applied ${r.applied} events from ${r.hub} in ${r.commits} commits`).join('\n'));
      } finally {
        clearInterval(views);
      }
    });
}
