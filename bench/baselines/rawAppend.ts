import fs from 'node:fs';
import { performance } from 'node:perf_hooks';

export interface RawAppend {
  lines: number;
  bytes: number;
  chunks: number;
  ms: number;
}

/**
 * The disk's ceiling for the ingest figure: the same NDJSON bytes appended to one file in chunks of
 * `groupSize` lines, each chunk followed by fdatasync, as a group commit of that size would do at
 * best. Reading the file and cutting it into chunks is not timed.
 */
export function rawAppend(source: string, target: string, groupSize: number): RawAppend {
  const data = fs.readFileSync(source);
  const cuts: number[] = [0];
  let lines = 0;
  for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) {
    lines += 1;
    if (lines % groupSize === 0) cuts.push(i + 1);
  }
  if (cuts[cuts.length - 1] !== data.length) cuts.push(data.length);
  fs.rmSync(target, { force: true });
  const fd = fs.openSync(target, 'a');
  const started = performance.now();
  try {
    for (let c = 1; c < cuts.length; c++) {
      fs.writeSync(fd, data, cuts[c - 1], cuts[c] - cuts[c - 1]);
      fs.fdatasyncSync(fd);
    }
  } finally {
    fs.closeSync(fd);
  }
  const ms = performance.now() - started;
  fs.rmSync(target, { force: true });
  return { lines, bytes: data.length, chunks: cuts.length - 1, ms };
}
