import { RESULT_MARKER } from './childProcess.js';

/**
 * Entry of a bench child process: `node dist/bench/child.js PHASE JSON`. Each phase is imported
 * only when asked for, so a child loads nothing another figure needs (Emmett, pg, ...).
 */
const PHASES: Record<string, (input: never) => Promise<unknown>> = {
  ingest: async (input) => (await import('./ingest.js')).ingestFile(input),
  rebuild: async (input) => (await import('./rebuild.js')).runJobsTimed(input),
  liveBatch: async (input) => (await import('./liveBatch.js')).runLiveBatch(input),
  duckdbRebuild: async (input) => (await import('./baselines/duckdbRebuild.js')).duckdbRebuild(input),
  emmettIngest: async (input) => (await import('./emmett/emmettIngest.js')).emmettIngest(input),
  emmettProject: async (input) => (await import('./emmett/emmettProjections.js')).emmettProject(input),
};

const [phase, json] = process.argv.slice(2);
const run = PHASES[phase];
if (!run) {
  process.stderr.write(`unknown bench phase ${phase}; phases: ${Object.keys(PHASES).join(', ')}\n`);
  process.exit(2);
}
const result = await run(JSON.parse(json) as never);
const maxRssBytes = process.resourceUsage().maxRSS * 1024;
process.stdout.write(`\n${RESULT_MARKER}${JSON.stringify({ result, maxRssBytes })}\n`);
// DuckDB or pg handles must not keep a finished phase alive.
process.exit(0);
