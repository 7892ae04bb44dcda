import fs from 'node:fs';
import path from 'node:path';
import { sampleNdjson } from '../domains/sampleCommands.js';

/** The commands a run ingests: the N-event file, and the 1% that the incremental figure adds on top. */
export interface Workload {
  /** NDJSON commands that make exactly `events` events (one event per command). */
  file: string;
  commands: number;
  bytes: number;
  /** The next commands of the same stream (1% of N), for the incremental run. */
  extraFile: string;
  extraCommands: number;
  /** Business time of the first command; commands are one minute apart. */
  start: string;
}

export const WORKLOAD_START = '2026-01-01T00:00:00Z';
/** The seed of the workload's command stream (the live-batch figure continues the same stream). */
export const WORKLOAD_SEED = 7;

/**
 * Writes the example domains' seeded command stream with no refusals. Every such command is
 * accepted and emits exactly one event, so N commands make N events (the ingest figure checks it).
 * The generator's output does not depend on `count` except where it stops, so the extra file is
 * exactly what would have followed the first N commands.
 */
export function writeWorkload(dir: string, events: number): Workload {
  const extraCommands = Math.max(1, Math.round(events / 100));
  const file = path.join(dir, 'commands.ndjson');
  const extraFile = path.join(dir, 'commands-extra.ndjson');
  const main = fs.openSync(file, 'w');
  const extra = fs.openSync(extraFile, 'w');
  let bytes = 0;
  let written = 0;
  let chunk: string[] = [];
  const flush = (fd: number) => {
    if (chunk.length === 0) return;
    const text = `${chunk.join('\n')}\n`;
    if (fd === main) bytes += Buffer.byteLength(text);
    fs.writeSync(fd, text);
    chunk = [];
  };
  try {
    for (const line of sampleNdjson({ count: events + extraCommands, seed: WORKLOAD_SEED, invalidShare: 0, start: WORKLOAD_START, stepSeconds: 60 })) {
      chunk.push(line);
      written += 1;
      if (written === events) flush(main);
      else if (chunk.length >= 10_000) flush(written < events ? main : extra);
    }
    flush(extra);
  } finally {
    fs.closeSync(main);
    fs.closeSync(extra);
  }
  return { file, commands: events, bytes, extraFile, extraCommands, start: WORKLOAD_START };
}

/**
 * The workload an earlier run with the same N wrote into `dir` (kept with `--keep` or `--dir`),
 * so a large-N rebuild can be measured again without generating and ingesting it again.
 */
export function existingWorkload(dir: string, events: number): Workload {
  const file = path.join(dir, 'commands.ndjson');
  return { file, commands: events, bytes: fs.statSync(file).size, extraFile: path.join(dir, 'commands-extra.ndjson'), extraCommands: Math.max(1, Math.round(events / 100)), start: WORKLOAD_START };
}

/** The first `count` lines of an NDJSON file, as a new file (the peer figure's subset). */
export function headLines(source: string, target: string, count: number): number {
  const input = fs.openSync(source, 'r');
  const output = fs.openSync(target, 'w');
  const buffer = Buffer.alloc(1 << 20);
  let lines = 0;
  try {
    for (let read = fs.readSync(input, buffer); read > 0 && lines < count; read = fs.readSync(input, buffer)) {
      let end = 0;
      while (lines < count) {
        const next = buffer.indexOf(10, end);
        if (next < 0 || next >= read) {
          end = read;
          break;
        }
        end = next + 1;
        lines += 1;
      }
      fs.writeSync(output, buffer, 0, end);
    }
  } finally {
    fs.closeSync(input);
    fs.closeSync(output);
  }
  return lines;
}

/** A jobs config for a bench lake: the built-in domains, every projection a job. */
export function writeBenchConfig(dir: string): string {
  const file = path.join(dir, 'jobs.config.json');
  fs.writeFileSync(file, JSON.stringify({ domains: ['superchargers', 'orders'], log: { partitions: 4 } }, null, 2));
  return file;
}
