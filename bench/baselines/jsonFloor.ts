import fs from 'node:fs';
import { performance } from 'node:perf_hooks';

export interface JsonFloor {
  lines: number;
  ms: number;
}

/**
 * The JSON floor of the ingest figure: JSON.parse then JSON.stringify of every line of the same
 * NDJSON file, on one thread. Every command is parsed and at least one line of about its size is
 * written, so no JavaScript ingester gets far past it. Reading and splitting the file is not
 * timed; the result is kept live so the work cannot be optimised away.
 */
export function jsonFloor(source: string): JsonFloor {
  const lines = fs.readFileSync(source, 'utf8').split('\n').filter((line) => line !== '');
  let written = 0;
  const started = performance.now();
  for (const line of lines) written += JSON.stringify(JSON.parse(line)).length;
  const ms = performance.now() - started;
  if (written === 0 && lines.length > 0) throw new Error('the JSON floor wrote nothing');
  return { lines: lines.length, ms };
}
