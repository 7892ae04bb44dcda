import { randomUUID } from 'node:crypto';
import type { CommandHandler, NewEvent } from '../domains/domain.js';
import { isRejection } from '../domains/domain.js';
import type { DomainRegistry } from '../domains/registry.js';
import type { LakeLayout } from '../lake/layout.js';
import { COMMAND_STREAM, partitionOf, partitionStream } from '../lake/log/logMeta.js';
import { parseLogLine } from '../lake/log/logDamage.js';
import type { Lock } from '../lake/lock.js';
import { LogWriter, type LogWriterOptions } from '../lake/log/logWriter.js';
import { StreamCursor } from '../lake/log/streamCursor.js';
import { businessTime } from './businessTime.js';
import { CommandValidator } from './commandValidator.js';
import type { CommandInput, CommandRecord, EventEnvelope, Rejection } from './envelope.js';
import { commandRecordLine, eventLine } from './logLines.js';
import { replayLog } from './logReplay.js';
import { firstUnstorable, wellFormed } from './storableValue.js';
import { WriteModel, type CommandMemo } from './writeModel.js';
import { saveSnapshot } from './writeModelSnapshot.js';

/** Where an emitted event landed. */
export interface EmittedEvent {
  eventId: string;
  eventType: string;
  aggregateId: string;
  version: number;
  partition: number;
  sequence: number;
}

export type Outcome =
  | { status: 'accepted'; commandId: string; events: EmittedEvent[] }
  | ({ status: 'rejected'; commandId: string | null } & Rejection)
  | { status: 'duplicate'; commandId: string; first: CommandMemo };

export interface IngesterOptions extends LogWriterOptions {
  /** Longest command accepted, in bytes of JSON (default 1 MiB). */
  maxCommandBytes?: number;
  /** Deepest nesting accepted in free-form fields such as metadata (default 32). */
  maxDepth?: number;
  /** Save a write-model snapshot on close once this many log records came after the last one. */
  snapshotEvery?: number;
}

/**
 * The command side: validate, decide against the aggregate's state, append the events and the
 * outcome to the lake log. Commands are decided one at a time in arrival order (each sees the
 * state its predecessors left); `commit()` then makes all decided outcomes durable in one group
 * commit. Nothing is acknowledged before `commit()` resolves.
 */
export class Ingester {
  private readonly validator: CommandValidator;
  private decided = 0;
  private durable = 0;
  private inflight: Promise<void> | null = null;
  private failure: Error | null = null;
  /** Between recovery attempts the old writer is closed, and its lock waits here to be reused. */
  private writerClosed = false;
  private spareLock: Lock | null = null;
  /** Log records read at start after the newest snapshot: the start-up cost a snapshot bounds. */
  readonly replayedAtStart: number;

  private constructor(
    private readonly layout: LakeLayout,
    private readonly registry: DomainRegistry,
    private writer: LogWriter,
    private model: WriteModel,
    private recordsSinceSnapshot: number,
    private readonly options: IngesterOptions,
  ) {
    this.replayedAtStart = recordsSinceSnapshot;
    this.validator = new CommandValidator(registry, options.maxDepth);
  }

  /** Opens the log for writing (lock, recovery) and rebuilds the write model (snapshot + tail). */
  static async open(layout: LakeLayout, registry: DomainRegistry, options: IngesterOptions = {}): Promise<Ingester> {
    const writer = await LogWriter.open(layout, options);
    try {
      const model = new WriteModel(registry);
      const replayed = await replayLog(layout, model, writer.head);
      return new Ingester(layout, registry, writer, model, replayed, options);
    } catch (error) {
      await writer.close();
      throw error;
    }
  }

  /** Decides one NDJSON line. */
  decideLine(text: string, source: string): Outcome {
    const limit = this.options.maxCommandBytes ?? 1024 * 1024;
    if (text.length > limit && Buffer.byteLength(text) > limit) {
      return this.reject(null, null, { code: 'schema', message: `command is ${Buffer.byteLength(text)} bytes, over the limit of ${limit}`, path: '/' }, source);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      return this.reject(null, null, { code: 'schema', message: `not valid JSON: ${(error as Error).message}`, path: '/' }, source);
    }
    return this.decide(value, source);
  }

  /** Decides one command (already parsed JSON); the outcome is durable after the next `commit()`. */
  decide(value: unknown, source: string): Outcome {
    if (this.failure) throw new Error(`the ingester stopped after a write failure: ${this.failure.message}`);
    const commandId = typeof (value as CommandInput | null)?.command_id === 'string' ? (value as CommandInput).command_id! : null;
    // An id that is not valid Unicode cannot be logged as sent (its record would halt
    // command_status), so it is no id: the command is refused like any malformed one.
    if (commandId !== null && !commandId.isWellFormed()) {
      return this.reject(null, value as CommandInput, { code: 'schema', message: 'command_id: holds a lone UTF-16 surrogate (not valid Unicode)', path: '/command_id' }, source);
    }
    const first = commandId === null ? undefined : this.model.commands.get(commandId);
    if (first) return { status: 'duplicate', commandId: commandId!, first };
    const validated = this.validator.validate(value);
    if (!validated.ok) return this.reject(commandId, value as CommandInput, validated.rejection, source);
    return this.decideValid(validated.input, validated.handler, commandId ?? randomUUID(), source);
  }

  private decideValid(input: CommandInput, handler: CommandHandler, commandId: string, source: string): Outcome {
    const aggregateId = handler.aggregateId(input.command);
    const current = this.model.aggregate(handler.aggregateType, aggregateId);
    const decision = handler.decide(current?.state, input.command);
    if (isRejection(decision)) return this.reject(commandId, input, decision, source);
    const timestamp = businessTime(input.received);
    if (!timestamp) return this.reject(commandId, input, { code: 'schema', message: 'received: is not a valid date-time', path: '/received' }, source);
    const aggregate = this.registry.aggregate(handler.aggregateType);
    if (!aggregate) throw new Error(`command ${handler.commandName} targets aggregate type ${handler.aggregateType}, which no domain defines`);
    const unstorable = unstorableEvent(decision);
    if (unstorable) return this.reject(commandId, input, unstorable, source);
    const partition = partitionOf(aggregateId, this.writer.meta.partitions);
    const stream = partitionStream(partition);
    const ingestedAt = nowIso();
    const events: EmittedEvent[] = [];
    let { version, state } = current ?? { version: 0, state: undefined };
    for (const event of decision) {
      version += 1;
      const sequence = this.writer.assignSequence(stream);
      const envelope: EventEnvelope = {
        eventId: randomUUID(),
        eventType: event.eventType,
        aggregateId,
        aggregateType: handler.aggregateType,
        version,
        timestamp,
        correlationId: input.correlation_id ?? commandId,
        causationId: commandId,
        data: event.data,
        schemaVersion: this.registry.schemaVersion(event.eventType),
        metadata: input.metadata ? { ...input.metadata, source } : { source },
        partition,
        sequence,
        ingestedAt,
      };
      this.writer.stage(stream, sequence, eventLine(envelope), timestamp);
      state = aggregate.evolve(state, event);
      events.push({ eventId: envelope.eventId, eventType: event.eventType, aggregateId, version, partition, sequence });
    }
    this.model.setAggregate(handler.aggregateType, aggregateId, version, state);
    this.record(commandId, input, { status: 'completed', eventIds: events.map((e) => e.eventId), aggregateType: handler.aggregateType, aggregateId, received: timestamp }, source);
    return { status: 'accepted', commandId, events };
  }

  private reject(commandId: string | null, input: CommandInput | null, refused: Rejection, source: string): Outcome {
    // A domain's message may quote what it was sent; logged and answered as valid Unicode.
    const rejection: Rejection = { ...refused, message: wellFormed(refused.message), ...(refused.path === undefined ? {} : { path: wellFormed(refused.path) }) };
    this.record(commandId ?? randomUUID(), input, { status: 'rejected', ...rejection }, source);
    return { status: 'rejected', commandId, ...rejection };
  }

  /** Stages the command's outcome in the workflow log, in arrival order. */
  private record(commandId: string, input: CommandInput | null, outcome: Partial<CommandRecord> & Pick<CommandRecord, 'status'>, source: string): void {
    const sequence = this.writer.assignSequence(COMMAND_STREAM);
    const received = outcome.received !== undefined ? outcome.received : typeof input?.received === 'string' ? businessTime(input.received) : null;
    const record: CommandRecord = {
      sequence,
      commandId,
      // A refused command's own strings may be what it was refused for: logged as valid Unicode.
      commandName: typeof input?.command_name === 'string' ? wellFormed(input.command_name) : null,
      status: outcome.status,
      code: outcome.code ?? null,
      message: outcome.message ?? null,
      path: outcome.path ?? null,
      eventIds: outcome.eventIds ?? [],
      aggregateType: outcome.aggregateType ?? null,
      aggregateId: outcome.aggregateId ?? null,
      received,
      correlationId: typeof input?.correlation_id === 'string' ? wellFormed(input.correlation_id) : null,
      source,
      recordedAt: nowIso(),
    };
    this.writer.stage(COMMAND_STREAM, sequence, commandRecordLine(record), received);
    this.model.commands.set(commandId, { sequence, status: record.status, code: record.code });
    this.decided += 1;
    this.recordsSinceSnapshot += 1 + record.eventIds.length;
  }

  /**
   * Resolves once every outcome decided before the call is durable. Concurrent callers share
   * one group commit; callers arriving during a commit are carried by the next one.
   */
  async commit(): Promise<void> {
    const target = this.decided;
    while (this.durable < target) {
      if (this.failure) throw this.failure;
      this.inflight ??= this.commitStaged().finally(() => (this.inflight = null));
      await this.inflight;
    }
  }

  private async commitStaged(): Promise<void> {
    const upTo = this.decided;
    try {
      await this.writer.commit();
      this.durable = upTo;
      this.lastCommitAt = Date.now();
    } catch (error) {
      // The write model is now ahead of the log: refuse further work until `recover()`.
      this.failure = new IngestWriteError(error as Error);
      throw this.failure;
    }
  }

  /** When a group commit last succeeded (ms since the epoch; 0: none yet in this process). */
  lastCommitAt = 0;

  /** Whether a write failed; `recover()` brings the ingester back once the cause is gone. */
  get failed(): Error | null {
    return this.failure;
  }

  /**
   * After a failed commit (disk full, read-only lake, storage throttling beyond the SDK's
   * retries, a lost lease): reopen the log, which trims the unacknowledged tail, and rebuild the
   * write model from what is durable. Outcomes decided but not committed are forgotten, as they
   * were never acknowledged. Throws if the cause persists; call again later (IngestRecovery does,
   * with backoff). The writer's lock (and lake lease) is kept between attempts while it is still
   * ours, so another machine cannot take the lake over during an outage; a lost lease is taken
   * again, or the attempt fails naming its new holder.
   */
  async recover(): Promise<void> {
    const unacknowledgedCommit = this.writer.unacknowledgedCommit;
    if (!this.writerClosed) {
      this.spareLock = await this.writer.close({ keepLock: true });
      this.writerClosed = true;
    }
    if (this.spareLock) {
      try {
        await this.spareLock.ensureHeld();
      } catch {
        await this.spareLock.release().catch(() => undefined);
        this.spareLock = null;
      }
    }
    const writer = await LogWriter.open(this.layout, { ...this.options, unacknowledgedCommit }, this.spareLock ?? undefined);
    this.spareLock = null; // the writer holds it now
    try {
      const model = new WriteModel(this.registry);
      await replayLog(this.layout, model, writer.head);
      this.model = model;
    } catch (error) {
      this.spareLock = await writer.close({ keepLock: true });
      throw error;
    }
    this.writer = writer;
    this.writerClosed = false;
    this.decided = 0;
    this.durable = 0;
    this.failure = null;
  }

  get head() {
    return this.writer.head;
  }

  /**
   * The command's workflow record from the command log (durable outcomes only), or null when the
   * id was never seen or its outcome is not durable yet.
   */
  async commandRecord(commandId: string): Promise<CommandRecord | null> {
    const memo = this.model.commands.get(commandId);
    const head = this.writer.head.streams[COMMAND_STREAM];
    if (!memo || memo.sequence > head.sequence) return null;
    const cursor = new StreamCursor(this.layout.streamDir(COMMAND_STREAM), memo.sequence - 1);
    const [line] = await cursor.next(1, head);
    return line ? parseLogLine<CommandRecord>(COMMAND_STREAM, cursor.spans, [line], 0) : null;
  }

  /**
   * Commits what is decided (and maybe snapshots), then releases the log. With `discard`, stops
   * as a crash would: whatever is decided but not committed is dropped, never acknowledged.
   */
  async close(options: { discard?: boolean } = {}): Promise<void> {
    try {
      if (!this.failure && !options.discard) {
        await this.commit();
        if (this.recordsSinceSnapshot >= (this.options.snapshotEvery ?? 50_000)) await saveSnapshot(this.layout, this.model, this.writer.head);
      }
    } finally {
      if (!this.writerClosed) await this.writer.close();
      this.writerClosed = true;
      await this.spareLock?.release();
      this.spareLock = null;
    }
  }
}

/** A write to the lake log failed; nothing after the last successful commit was acknowledged. */
export class IngestWriteError extends Error {
  constructor(readonly cause: Error) {
    super(`lake log write failed (${(cause as NodeJS.ErrnoException).code ?? 'error'}): ${cause.message}; nothing after the last commit was acknowledged`);
  }
}

/**
 * The first event data a sink could not store as the domain emitted it (a decide that computed
 * NaN or a huge integer): the command is refused rather than logged with altered data.
 */
function unstorableEvent(events: NewEvent[]): Rejection | null {
  for (const [i, event] of events.entries()) {
    const problem = firstUnstorable(event.data, `/events/${i}/data`);
    if (problem) return { code: 'schema', message: `the ${event.eventType} event it would emit cannot be stored: ${problem.path.slice(1).replaceAll('/', '.')} ${problem.message}`, path: '/command' };
  }
  return null;
}

let clockMs = 0;
let clockIso = '';

/** The current time as ISO-8601, formatted once per millisecond rather than once per record. */
function nowIso(): string {
  const now = Date.now();
  if (now !== clockMs) {
    clockMs = now;
    clockIso = new Date(now).toISOString();
  }
  return clockIso;
}
