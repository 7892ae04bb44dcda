import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { DomainRegistry } from '../domains/registry.js';
import { COMMAND_STREAM, partitionOf, partitionStream } from '../lake/log/logMeta.js';
import { BufferedDecisionLog, type DecidedRecords } from './bufferedDecisionLog.js';
import { CommandDecider } from './commandDecider.js';
import type { CommandMemo } from './commandIdStore.js';
import { CommandRouter, ownerOf } from './commandRouting.js';
import { commandIdOf, overByteLimit, parseCommandLine } from './commandTriage.js';
import type { DeciderBatch, DeciderInit, DeciderReply, DecidedBatch } from './deciderProtocol.js';
import type { CommandInput } from './envelope.js';
import type { AggregateEntry } from './writeModel.js';
import { WriteModel } from './writeModel.js';

/**
 * Decider threads `eventlake ingest` uses unless told otherwise (`--deciders`). One: on this
 * 2-core machine two deciders did not pay (docs/design-notes.md, "Decider threads").
 */
export const DEFAULT_DECIDERS = 1;

/** Commands per batch handed to the deciders: large enough that messages cost little per command. */
const BATCH_LINES = 2000;

/** What the pool needs from the ingester it decides for (its thread stages and commits). */
export interface DecidingFor {
  registry: DomainRegistry;
  partitions: number;
  maxCommandBytes: number;
  maxDepth?: number;
  nextSequenceOf(stream: string): number;
  knownCommand(commandId: string): boolean;
  aggregates(): Iterable<[string, AggregateEntry]>;
  restoreAggregate(key: string, version: number, state: unknown): void;
  stageEncoded(stream: string, first: number, count: number, bytes: Uint8Array, lastTimestamp: string | null): void;
  recorded(commandId: string, memo: CommandMemo, events: number): void;
}

/** A batch's outcomes, as the file summary counts them. */
export interface MergedBatch {
  accepted: number;
  rejected: number;
  duplicates: number;
  events: number;
  errors: { line: number; command_id: string | null; code: string; message: string }[];
  /** The last line of the file this batch holds (everything up to it is staged now). */
  throughLine: number;
}

const DUPLICATE = -2;
const REFUSED_HERE = -1;

/** One batch on its way: who decides each line, and the deciders' answers to come. */
interface PendingBatch {
  id: number;
  lineNumbers: number[];
  /** Per line: the decider's index, REFUSED_HERE or DUPLICATE. */
  owners: number[];
  /** Ids routed to deciders in this batch (known only once it is merged). */
  ids: string[];
  refused: DecidedRecords & { errors: DecidedBatch['errors'] };
  answers: (Promise<DecidedBatch> | null)[];
}

/**
 * Decider threads that each own the aggregates of a set of log partitions (partition p belongs
 * to decider p mod n). This thread scans each line (CommandRouter; a full parse for odd lines)
 * to find its command id and its aggregate: duplicates are found here, in arrival order, against every id seen (as the one-thread
 * ingester does); lines refused before routing (too long, not JSON, a malformed id) are
 * recorded here; every other line goes, as text, to the decider of its aggregate's partition
 * before its payload is validated (the decider validates: a line routed by a payload that turns
 * out invalid is refused wherever it went, touching no state). Each decider takes its lines in
 * arrival order, so an aggregate's commands are decided in arrival order against the state its
 * predecessors left. The command log's sequences are assigned here in arrival order; a batch's
 * records are staged only when every decider has answered for it, batches in order, so the log
 * is what one thread would have written (event ids and times aside).
 */
export class DeciderPool {
  private readonly workers: DeciderThread[];
  private readonly refusals: BufferedDecisionLog;
  private readonly refuser: CommandDecider;
  private readonly router: CommandRouter;
  private readonly pendingIds = new Set<string>();
  private readonly queue: PendingBatch[] = [];
  private current: PendingBatch;
  private routed: { texts: string[]; lineNumbers: number[]; sequences: number[] }[];
  private nextCommandSequence: number;
  private batches = 0;

  private constructor(
    private readonly target: DecidingFor,
    workers: DeciderThread[],
    private readonly sourcePrefix: string,
  ) {
    this.workers = workers;
    this.refusals = new BufferedDecisionLog();
    // Refusals before routing touch no aggregate: this decider's model stays empty.
    this.refuser = new CommandDecider(target.registry, new WriteModel(target.registry), target.partitions, this.refusals, target.maxDepth);
    this.router = new CommandRouter(target.registry, target.partitions, workers.length);
    this.nextCommandSequence = target.nextSequenceOf(COMMAND_STREAM);
    this.current = this.newBatch();
    this.routed = this.newRouting();
  }

  /** `sourcePrefix`: a line's source is it followed by the line number ("file:NAME:"). */
  static async start(target: DecidingFor, deciders: number, sourcePrefix: string): Promise<DeciderPool> {
    const { loadedFrom } = target.registry;
    if (!loadedFrom) throw new Error('decider threads need domains loaded from the config (loadDomains), which they load again');
    const owned = (k: number) => [...Array(target.partitions).keys()].filter((p) => p % deciders === k);
    const aggregates: [string, number, unknown][][] = Array.from({ length: deciders }, () => []);
    for (const [key, entry] of target.aggregates()) {
      const aggregateId = key.slice(key.indexOf('|') + 1);
      aggregates[partitionOf(aggregateId, target.partitions) % deciders].push([key, entry.version, entry.state]);
    }
    const workers = await Promise.all(
      Array.from({ length: deciders }, (_, k) =>
        DeciderThread.start({
          domains: loadedFrom,
          index: k,
          deciders,
          partitions: target.partitions,
          maxDepth: target.maxDepth,
          nextSequences: Object.fromEntries(owned(k).map((p) => [partitionStream(p), target.nextSequenceOf(partitionStream(p))])),
          aggregates: aggregates[k],
        }),
      ),
    );
    return new DeciderPool(target, workers, sourcePrefix);
  }

  /** Lines routed but not yet handed to the deciders. */
  get routedLines(): number {
    return this.current.owners.length;
  }

  /** Batches handed to the deciders and not yet merged. */
  get inFlight(): number {
    return this.queue.length;
  }

  /** Takes one non-blank line: settles it here (refused, duplicate) or routes it to its decider. */
  route(text: string, lineNumber: number): void {
    const batch = this.current;
    batch.lineNumbers.push(lineNumber);
    // Most lines are routed by a scan; the rest are parsed here, as every line once was.
    if (!overByteLimit(text, this.target.maxCommandBytes) && this.router.route(text)) return this.send(batch, text, lineNumber, this.router.commandId, this.router.owner);
    const source = `${this.sourcePrefix}${lineNumber}`;
    const parsed = parseCommandLine(text, this.target.maxCommandBytes);
    if (!parsed.ok) return this.refuse(batch, null, parsed.rejection, source);
    const id = commandIdOf(parsed.value);
    if (!id.ok) return this.refuse(batch, parsed.value as CommandInput, id.rejection, source);
    this.send(batch, text, lineNumber, id.commandId, ownerOf(this.target.registry, parsed.value, this.target.partitions, this.workers.length));
  }

  /** A line with a usable id (or none) goes to its decider, unless its id is taken. */
  private send(batch: PendingBatch, text: string, lineNumber: number, commandId: string | null, owner: number): void {
    if (commandId !== null && (this.pendingIds.has(commandId) || this.target.knownCommand(commandId))) {
      batch.owners.push(DUPLICATE);
      return;
    }
    batch.owners.push(owner);
    if (commandId !== null) {
      this.pendingIds.add(commandId);
      batch.ids.push(commandId);
    }
    const routed = this.routed[owner];
    routed.texts.push(text);
    routed.lineNumbers.push(lineNumber);
    routed.sequences.push(this.nextCommandSequence++);
    if (batch.owners.length >= BATCH_LINES) this.dispatch();
  }

  /** Hands the routed lines to the deciders. */
  dispatch(): void {
    const batch = this.current;
    if (batch.owners.length === 0) return;
    batch.refused = { ...this.refusals.take(), errors: batch.refused.errors };
    batch.answers = this.routed.map((lines, k) => {
      if (lines.texts.length === 0) return null;
      const answer = this.workers[k].decide({ batch: batch.id, sourcePrefix: this.sourcePrefix, ...lines });
      answer.catch(() => undefined); // awaited by mergeNext(); not an unhandled rejection meanwhile
      return answer;
    });
    this.queue.push(batch);
    this.current = this.newBatch();
    this.routed = this.newRouting();
  }

  /** Waits for the oldest batch's answers and stages its records, in arrival order. */
  async mergeNext(): Promise<MergedBatch> {
    const batch = this.queue[0];
    const answers = await Promise.all(batch.answers);
    this.queue.shift();
    return this.merge(batch, answers);
  }

  /** Stops the deciders; the aggregates they changed go back to the ingester's write model. */
  async close(options: { keepAggregates: boolean }): Promise<void> {
    try {
      if (options.keepAggregates) {
        for (const changed of await Promise.all(this.workers.map((w) => w.close()))) {
          for (const [key, entry] of changed) this.target.restoreAggregate(key, entry.version, entry.state);
        }
      }
    } finally {
      await Promise.all(this.workers.map((w) => w.terminate()));
    }
  }

  private refuse(batch: PendingBatch, input: CommandInput | null, rejection: { code: string; message: string; path?: string }, source: string): void {
    batch.owners.push(REFUSED_HERE);
    const index = this.refusals.ids.length;
    this.refusals.setCommandSequence(this.nextCommandSequence++);
    const outcome = this.refuser.reject(null, input, rejection, source);
    if (outcome.status === 'rejected') batch.refused.errors.push({ index, commandId: null, code: outcome.code, message: outcome.message });
  }

  private merge(batch: PendingBatch, answers: (DecidedBatch | null)[]): MergedBatch {
    const merged: MergedBatch = { accepted: 0, rejected: 0, duplicates: 0, events: 0, errors: [], throughLine: batch.lineNumbers[batch.lineNumbers.length - 1] };
    const sources = [...answers, batch.refused];
    const cursors = sources.map(() => 0);
    const errorCursors = sources.map(() => 0);
    const codeCursors = sources.map(() => 0);
    let run: { source: number; from: number; to: number; sequence: number } | null = null;
    const flush = () => {
      if (!run) return;
      const records = sources[run.source]!;
      const start = run.from === 0 ? 0 : records.recordEnds[run.from - 1];
      const lastTimestamp = run.to === records.recordEnds.length ? records.lastReceived : null;
      this.target.stageEncoded(COMMAND_STREAM, run.sequence, run.to - run.from, records.records.subarray(start, records.recordEnds[run.to - 1]), lastTimestamp);
      run = null;
    };
    for (let i = 0; i < batch.owners.length; i++) {
      const owner = batch.owners[i];
      if (owner === DUPLICATE) {
        merged.duplicates += 1;
        continue;
      }
      const source = owner === REFUSED_HERE ? sources.length - 1 : owner;
      const records = sources[source]!;
      const r = cursors[source]++;
      const memo: CommandMemo = records.rejected[r]
        ? { sequence: records.sequences[r], status: 'rejected', code: records.rejectedCodes[codeCursors[source]++] }
        : { sequence: records.sequences[r], status: 'completed', code: null };
      if (run && run.source === source && run.to === r) run.to += 1;
      else {
        flush();
        run = { source, from: r, to: r + 1, sequence: memo.sequence };
      }
      this.target.recorded(records.ids[r], memo, records.eventCounts[r]);
      if (memo.status === 'completed') {
        merged.accepted += 1;
        merged.events += records.eventCounts[r];
      } else {
        merged.rejected += 1;
        const error = records.errors[errorCursors[source]++];
        merged.errors.push({ line: batch.lineNumbers[i], command_id: error.commandId, code: error.code, message: error.message });
      }
    }
    flush();
    for (const answer of answers) for (const e of answer?.events ?? []) this.target.stageEncoded(e.stream, e.first, e.count, e.bytes, e.lastTimestamp);
    for (const id of batch.ids) this.pendingIds.delete(id);
    return merged;
  }

  private newBatch(): PendingBatch {
    return { id: this.batches++, lineNumbers: [], owners: [], ids: [], refused: { ...new BufferedDecisionLog().take(), errors: [] }, answers: [] };
  }

  private newRouting() {
    return this.workers.map(() => ({ texts: [] as string[], lineNumbers: [] as number[], sequences: [] as number[] }));
  }
}

/** One decider thread, answering batches in the order sent. */
class DeciderThread {
  private readonly waiting: { resolve: (reply: DeciderReply) => void; reject: (error: Error) => void }[] = [];
  private failure: Error | null = null;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (reply: DeciderReply) => this.waiting.shift()?.resolve(reply));
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => this.fail(new Error(`a decider thread stopped (exit code ${code})`)));
  }

  static async start(init: DeciderInit): Promise<DeciderThread> {
    const compiled = new URL('./deciderWorker.js', import.meta.url);
    if (fs.existsSync(fileURLToPath(compiled))) return new DeciderThread(new Worker(compiled, { workerData: init }));
    // Running from the TypeScript sources (the tests): the worker loads them through tsx, as
    // custom TypeScript domains are loaded.
    const source = new URL('./deciderWorker.ts', import.meta.url).href;
    const script = `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(source)}, ${JSON.stringify(import.meta.url)}))`;
    return new DeciderThread(new Worker(script, { eval: true, workerData: init }));
  }

  decide(batch: DeciderBatch): Promise<DecidedBatch> {
    return this.ask(batch).then((reply) => ('decided' in reply ? reply.decided : Promise.reject(new Error('a decider thread answered out of turn'))));
  }

  async close(): Promise<[string, AggregateEntry][]> {
    const reply = await this.ask({ close: true });
    return 'aggregates' in reply ? reply.aggregates : [];
  }

  terminate(): Promise<number> {
    this.failure ??= new Error('the decider threads were stopped');
    return this.worker.terminate();
  }

  private ask(message: DeciderBatch | { close: true }): Promise<DeciderReply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.worker.postMessage(message);
    });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.waiting.splice(0)) waiter.reject(this.failure);
  }
}
