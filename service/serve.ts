import type { LakeLayout } from '../lake/layout.js';
import { logger } from '../lake/logger.js';
import type { EventlakeConfig } from '../projections/jobsConfig.js';
import { createService } from './server.js';
import type { ServiceConfig } from './serviceConfig.js';

/**
 * `eventlake serve` as a process: listen, print the bound URL as the first line on stdout (tools
 * and tests read it, which matters with --port 0), and on SIGTERM or SIGINT stop gracefully and
 * exit 0. A second signal during the stop exits at once with 130.
 */
export async function serve(config: EventlakeConfig, layout: LakeLayout, options: ServiceConfig, print: (line: string) => void): Promise<void> {
  const service = await createService(config, layout, options);
  let url: string;
  try {
    url = await service.listen();
  } catch (error) {
    await service.close();
    throw error;
  }
  print(`listening on ${url}`);
  logger.info({ url, lake: layout.root, auth: options.token !== null }, 'eventlake serve started');

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`eventlake: ${signal} again, exiting without finishing the graceful stop\n`);
        process.exit(130);
      }
      stopping = true;
      process.stderr.write(`eventlake: ${signal} received, finishing in-flight commands and stopping\n`);
      service.close().then(resolve, (error: Error) => {
        process.stderr.write(`eventlake: stopping failed: ${error.message}\n`);
        process.exit(1);
      });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  process.stderr.write('eventlake: stopped\n');
}
