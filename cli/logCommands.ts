import type { Command } from 'commander';
import { repairLog } from '../ingest/logRepair.js';
import type { LakeLayout } from '../lake/layout.js';
import type { EventlakeConfig } from '../projections/jobsConfig.js';
import { consumerPositions, positionsAhead } from '../projections/logConsumers.js';
import { print } from './stdout.js';

type Context = () => Promise<{ config: EventlakeConfig; layout: LakeLayout }>;

/** The log's own maintenance: `eventlake log repair`. */
export function registerLogCommands(program: Command, context: Context): void {
  const log = program.command('log').description('the lake log itself: repair its commit point');
  log
    .command('repair')
    .description("rebuild log/HEAD from the segments' whole records (a missing, empty or damaged head); drops only a torn or uncommitted tail unless --accept-loss")
    .option('--dry-run', 'say what the new head would keep, write nothing')
    .option('--accept-loss', 'also cut the log at damage with whole records after it, or below the old head (jobs past the new head must then be rebuilt)')
    .option('--json', 'print the plan as JSON')
    .action(async (options: { dryRun?: boolean; acceptLoss?: boolean; json?: boolean }) => {
      const { config, layout } = await context();
      const result = await repairLog(layout, {
        dryRun: options.dryRun,
        acceptLoss: options.acceptLoss,
        readersAhead: async (head) => (await consumerPositions(layout, config.jobs)).flatMap(({ consumer, positions }) => positionsAhead(positions, head).map((ahead) => `${consumer}: ${ahead}`)),
      });
      if (options.json) return void print(JSON.stringify(result));
      print(`${result.written ? 'wrote' : 'would write'} ${layout.headFile} (commit ${result.head.commit}):`);
      for (const [stream, s] of Object.entries(result.streams)) {
        const stop = s.stoppedAt ? `; stopped at byte ${s.stoppedAt.offset} of ${s.stoppedAt.segment}: ${s.stoppedAt.reason}` : '';
        print(`  ${stream}: keeps ${s.kept} records${s.dropped > 0 ? `, drops ${s.dropped} (an uncommitted group's)` : ''}${stop}`);
      }
      for (const loss of result.losses) print(`  lost: ${loss}`);
    });
}
