import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { partitionOf } from '../../lake/log/logMeta.js';
import { CommandValidator } from '../../ingest/commandValidator.js';
import { decideEvents, emmettHandlers, exampleRegistry, streamName } from './emmettDomain.js';

export interface EmmettIngestInput {
  connectionString: string;
  file: string;
  /** Commands handled concurrently (each lane owns a set of aggregates, so per-stream order holds). */
  lanes: number;
}

export interface EmmettIngestTimes {
  commands: number;
  events: number;
  ms: number;
}

/**
 * Child side: the same NDJSON commands through Emmett on PostgreSQL: parse, validate against the
 * same JSON Schemas, then Emmett's CommandHandler per command (one transaction, committed and
 * fsynced by PostgreSQL before it returns). Commands run in `lanes` concurrent lanes keyed by
 * aggregate, as concurrent HTTP requests would, so PostgreSQL can group their commits.
 */
export async function emmettIngest(input: EmmettIngestInput): Promise<EmmettIngestTimes> {
  const registry = await exampleRegistry();
  const validator = new CommandValidator(registry);
  const handlers = emmettHandlers(registry);
  const store = getPostgreSQLEventStore(input.connectionString);
  await store.schema.migrate();
  const lines = fs.readFileSync(input.file, 'utf8').split('\n').filter((l) => l.trim() !== '');
  let events = 0;
  const started = performance.now();
  const lanes: { line: string; key: string }[][] = Array.from({ length: input.lanes }, () => []);
  for (const line of lines) {
    const command = JSON.parse(line) as { command?: Record<string, unknown> };
    // Lane by the aggregate's id field, whichever the command carries.
    const key = String(command.command?.supercharger_serial ?? command.command?.order_id ?? command.command?.customer_id ?? '');
    lanes[partitionOf(key, input.lanes)].push({ line, key });
  }
  await Promise.all(
    lanes.map(async (lane) => {
      for (const { line } of lane) {
        const validated = validator.validate(JSON.parse(line));
        if (!validated.ok) throw new Error(`invalid command: ${validated.rejection.message}`);
        const { input: command, handler } = validated;
        const aggregateId = handler.aggregateId(command.command);
        const handle = handlers.get(handler.aggregateType)!;
        const commandId = command.command_id ?? aggregateId;
        await handle(store, streamName(handler.aggregateType, aggregateId), (state) => {
          const made = decideEvents(handler, command, commandId, state);
          events += made.length;
          return made;
        });
      }
    }),
  );
  const ms = performance.now() - started;
  await store.close();
  return { commands: lines.length, events, ms };
}
