import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { sampleNdjson } from '../domains/sampleCommands.js';
import { JsonMemberScan } from '../ingest/jsonMemberScan.js';
import { commandRecordLine, eventLineOf, metadataJson } from '../ingest/logLines.js';
import { ENCODE_BATCH_CHARS } from '../lake/log/logWriter.js';
import type { CommandInput } from '../ingest/envelope.js';
import { WORKLOAD_SEED, WORKLOAD_START } from './workload.js';

/*
 * The JSON an accepted command cannot do without, step by step, beside the JSON floor of the
 * ingest figure, on the bench's own commands in one process (so load moves them together):
 * one parse of the command, its event line and its command record line, each built as the
 * ingester builds them and UTF-8 encoded in batches as the log writer does. Their sum against
 * the floor bounds what any one thread can reach (docs/benchmarks.md, "Ingest toward the JSON
 * floor"). CPU time per command, not wall time.
 */

export interface FloorStep {
  step: string;
  us: number;
}

export function ingestFloorSteps(count: number): { steps: FloorStep[]; bytes: { command: number; event: number; record: number } } {
  const lines = [...sampleNdjson({ count, seed: WORKLOAD_SEED, invalidShare: 0, start: WORKLOAD_START, stepSeconds: 60 })];
  const commands = lines.map((line) => JSON.parse(line) as CommandInput);
  const buffer = Buffer.allocUnsafeSlow(8 * 1024 * 1024);
  const eventLine = (i: number) => {
    const c = commands[i];
    const context = { aggregateId: 'A-1', aggregateType: 'order', timestamp: c.received, correlationId: c.command_id!, causationId: c.command_id!, partition: 1, ingestedAt: '2026-11-30T19:00:00.000Z' };
    return eventLineOf(context, { eventId: randomUUID(), eventType: 'OrderCreated', version: 1, data: c.command, schemaVersion: 1, sequence: i + 1 }, metadataJson(c.metadata, `file:commands.ndjson:${i + 1}`));
  };
  const recordLine = (i: number) => {
    const c = commands[i];
    return commandRecordLine({
      sequence: i + 1,
      commandId: c.command_id!,
      commandName: c.command_name,
      status: 'completed',
      code: null,
      message: null,
      path: null,
      eventIds: ['0b5e6c1c-4a0e-4a59-9d0f-3f4f6b0e1a2b'],
      aggregateType: 'order',
      aggregateId: 'A-1',
      received: c.received,
      correlationId: null,
      source: `file:commands.ndjson:${i + 1}`,
      recordedAt: '2026-11-30T19:00:00.000Z',
    });
  };
  /** Bytes written: lines built and encoded ENCODE_BATCH_CHARS units at a time into a reused buffer, as the log writer does. */
  const encoded = (make: (i: number) => string) => () => {
    let bytes = 0;
    let pending = '';
    for (let i = 0; i < count; i++) {
      pending += `${make(i)}\n`;
      if (pending.length >= ENCODE_BATCH_CHARS) {
        bytes += buffer.write(pending, 0, 'utf8');
        pending = '';
      }
    }
    return bytes + buffer.write(pending, 0, 'utf8');
  };
  const scan = new JsonMemberScan(['command_id', 'command_name', 'command']);
  const steps: [string, () => number][] = [
    ['JSON floor: JSON.parse + JSON.stringify of the line', () => lines.reduce((n, line) => n + JSON.stringify(JSON.parse(line)).length, 0)],
    ['JSON.parse of the command', () => lines.reduce((n, line) => n + (JSON.parse(line) ? 1 : 0), 0)],
    ['event line (with its randomUUID), built and UTF-8 encoded', encoded(eventLine)],
    ['command record line, built and UTF-8 encoded', encoded(recordLine)],
    ['routing scan (JsonMemberScan; decider threads only)', () => lines.reduce((n, line) => n + (scan.scan(line) ? 1 : 0), 0)],
  ];
  const cpuPerCommand = (run: () => number) => {
    const before = process.cpuUsage();
    if (run() === 0 && count > 0) throw new Error('a floor step did nothing');
    const used = process.cpuUsage(before);
    return (used.user + used.system) / count;
  };
  for (const [, run] of steps) cpuPerCommand(run); // warm-up: every step optimised before it is timed
  const bytes = {
    command: lines.reduce((n, line) => n + Buffer.byteLength(line), 0) / count,
    event: encoded(eventLine)() / count - 1,
    record: encoded(recordLine)() / count - 1,
  };
  return { steps: steps.map(([step, run]) => ({ step, us: cpuPerCommand(run) })), bytes };
}

/** `node dist/bench/ingestFloor.js [COMMANDS]`: the steps as a markdown table. */
if (process.argv[1] && path.basename(process.argv[1]) === 'ingestFloor.js') {
  const count = Number(process.argv[2] ?? 100_000);
  const { steps, bytes } = ingestFloorSteps(count);
  process.stdout.write('| step (per command) | CPU us |\n|---|---:|\n');
  for (const s of steps) process.stdout.write(`| ${s.step} | ${s.us.toFixed(2)} |\n`);
  const [floor, parse, event, record] = steps.map((s) => s.us);
  process.stdout.write(`\nbytes per line: command ${Math.round(bytes.command)}, event line ${Math.round(bytes.event)}, command record ${Math.round(bytes.record)}\n`);
  process.stdout.write(`parse + two lines = ${(parse + event + record).toFixed(2)} us = ${((parse + event + record) / floor).toFixed(2)}x the floor: one thread reaches at most ${(floor / (parse + event + record)).toFixed(2)} of it\n`);
}
