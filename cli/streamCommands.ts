import type { Command } from 'commander';
import type { LakeLayout } from '../lake/layout.js';
import { forwardOnce, runForwarder } from '../lake/stream/eventHubsForwarder.js';
import type { EventlakeConfig } from '../projections/jobsConfig.js';

type Context = () => Promise<{ config: EventlakeConfig; layout: LakeLayout }>;
const print = (text: string) => process.stdout.write(`${text}\n`);

/** The outbox: the lake log's events to Event Hubs. */
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
