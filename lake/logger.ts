import { pino } from 'pino';

/**
 * Operational log lines (recovery trims, lock take-overs, job progress) go to stderr as JSON so
 * that stdout stays clean for command output. Level from EVENTLAKE_LOG_LEVEL (default "warn").
 */
export const logger = pino(
  { name: 'eventlake', level: process.env.EVENTLAKE_LOG_LEVEL ?? 'warn', base: undefined },
  pino.destination(2),
);
