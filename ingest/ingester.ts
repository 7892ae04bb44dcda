import type { DomainRegistry } from '../domains/registry.js';
import type { LakeLayout } from '../lake/layout.js';
import { COMMAND_STREAM } from '../lake/log/logMeta.js';
import { parseLogLine } from '../lake/log/logDamage.js';
import type { Lock } from '../lake/lock.js';
import { LogWriter, type LogWriterOptions } from '../lake/log/logWriter.js';
import { StreamCursor } from '../lake/log/streamCursor.js';
import { CommandDecider, type DecisionLog, type Outcome } from './commandDecider.js';
import { commandIdOf, DEFAULT_MAX_COMMAND_BYTES, parseCommandLine } from './commandTriage.js';
import type { DecidingFor } from './deciderPool.js';
import type { CommandInput, CommandRecord } from './envelope.js';
import { replayLog } from './logReplay.js';
import { WriteModel, type CommandMemo } from './writeModel.js';
import { saveSnapshot } from './writeModelSnapshot.js';

export type { EmittedEvent, Outcome } from './commandDecider.js';

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
  private decider: CommandDecider;
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
    this.decider = this.deciderFor(model);
  }

  /** The decider of this thread: sequences and staging straight from the log writer. */
  private deciderFor(model: WriteModel): CommandDecider {
    const log: DecisionLog = {
      commandSequence: () => this.writer.assignSequence(COMMAND_STREAM),
      eventSequence: (stream) => this.writer.assignSequence(stream),
      stage: (stream, sequence, line, timestamp) => this.writer.stage(stream, sequence, line, timestamp),
      recorded: (commandId, memo, events) => this.recorded(commandId, memo, events),
    };
    return new CommandDecider(this.registry, model, this.writer.meta.partitions, log, this.options.maxDepth);
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
    const parsed = parseCommandLine(text, this.options.maxCommandBytes ?? DEFAULT_MAX_COMMAND_BYTES);
    if (!parsed.ok) return this.decider.reject(null, null, parsed.rejection, source);
    return this.decide(parsed.value, source);
  }

  /** Decides one command (already parsed JSON); the outcome is durable after the next `commit()`. */
  decide(value: unknown, source: string): Outcome {
    if (this.failure) throw new Error(`the ingester stopped after a write failure: ${this.failure.message}`);
    const id = commandIdOf(value);
    if (!id.ok) return this.decider.reject(null, value as CommandInput, id.rejection, source);
    const first = id.commandId === null ? undefined : this.model.commands.get(id.commandId);
    if (first) return { status: 'duplicate', commandId: id.commandId!, first };
    return this.decider.decideNew(value, id.commandId, source);
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
      this.decider = this.deciderFor(model);
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

  /**
   * This ingester as decider threads need it (`DeciderPool`): its write model to start them
   * from and take their changes back, and its writer to stage what they decided. Only while
   * nothing else decides on this ingester (a file ingest).
   */
  decidingFor(): DecidingFor {
    if (this.failure) throw new Error(`the ingester stopped after a write failure: ${this.failure.message}`);
    return {
      registry: this.registry,
      partitions: this.writer.meta.partitions,
      maxCommandBytes: this.options.maxCommandBytes ?? DEFAULT_MAX_COMMAND_BYTES,
      maxDepth: this.options.maxDepth,
      nextSequenceOf: (stream) => this.writer.nextSequenceOf(stream),
      knownCommand: (commandId) => this.model.commands.get(commandId) !== undefined,
      aggregates: () => this.model.aggregates(),
      restoreAggregate: (key, version, state) => this.model.restoreAggregate(key, version, state),
      stageEncoded: (stream, first, count, bytes, lastTimestamp) => this.writer.stageEncoded(stream, first, count, bytes, lastTimestamp),
      recorded: (commandId, memo, events) => this.recorded(commandId, memo, events),
    };
  }

  /** A command's record is staged: its id is known from now on, and it waits for the next commit. */
  private recorded(commandId: string, memo: CommandMemo, events: number): void {
    this.model.commands.set(commandId, memo);
    this.decided += 1;
    this.recordsSinceSnapshot += 1 + events;
  }

  /**
   * Stops this ingester as a failed write does: what is decided but not committed is never
   * written (nor snapshotted) and further work is refused until `recover()`. For decider
   * threads that stopped part way, whose states may be ahead of what was staged.
   */
  abandon(cause: Error): void {
    this.failure ??= cause;
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
