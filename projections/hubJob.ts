import type { PartitionProperties, ReceivedEventData } from '@azure/event-hubs';
import { commitVersion, ConcurrentCommitError, loadSnapshot, refreshSnapshot } from '../lake/delta/deltaTable.js';
import { applyCommit, type Snapshot } from '../lake/delta/snapshot.js';
import { Duck } from '../lake/duckdb.js';
import { failpoint } from '../lake/failpoints.js';
import type { LakeLayout } from '../lake/layout.js';
import { logger } from '../lake/logger.js';
import { readHead, type LogHead } from '../lake/log/logHead.js';
import { partitionStream } from '../lake/log/logMeta.js';
import { isClaimCheck } from '../lake/stream/claimCheck.js';
import { readCheckpoint, type HandOverMark } from '../lake/stream/forwarderCheckpoint.js';
import { batchApplier, PoisonEventError, type Poisoned } from './applyBatch.js';
import { TableMerge } from './tableMerge.js';
import { tableShape } from './tableShape.js';
import { recordDeadLetter } from './deadLetters.js';
import { lakeEventAt, lakeEventsOfHubPartition } from './hubLakeFill.js';
import { committedHubPosition, FILLING_FROM_LAKE, handOverPosition, lakePositions, UNSET, type HubPosition } from './hubPositions.js';
import { hubCommit, lastApplied } from './jobCommits.js';
import { linesOfEventTypes, type Job } from './jobSource.js';
import { maintainTable } from './tableMaintenance.js';
import { ANY_KEY, NO_KEYS } from './tableKeys.js';

/** What one hub batch did. */
export interface HubBatchResult {
  /** Events applied (after dropping what was applied before). */
  applied: number;
  /** Copies skipped: at or below the partition's position or a lake watermark. */
  skipped: number;
  /** True when a commit was made. */
  committed: boolean;
  /** The partition's position in the table after the batch. */
  position: HubPosition;
}

/** The table was read further than the hub goes: the hub is not the one the job read. */
export class PastHubEndError extends Error {}

/**
 * A job's table fed from Event Hubs, one hub partition's batch at a time. Several instances (in
 * one process or many) may feed the same table: each batch is applied to the table as it is now
 * and committed optimistically at the next version. If another writer took that version, the
 * batch is redone on the newer table, where the partition's position already shows what the
 * other writer applied (after a rebalance), so nothing is applied twice or skipped.
 *
 * The hub keeps events for its retention only. When the next event a partition should give is
 * no longer there (the first one received, or the first one the hub still has, comes after the
 * position), the events between are taken from the lake log, the system of record: every lake
 * event the forwarder hashed onto that partition after the table's watermarks, up to the lake's
 * head, then the hub from its first event on (its copies of those are at or below the new
 * watermarks). Anything in the hub was committed to the lake before it was sent, so the head
 * read after the hub's first position is known covers every event that expired.
 */
export class HubJobTable {
  private snapshot: Snapshot;
  /** Batches of different partitions take turns: they share one DuckDB and its temp tables. */
  private turn: Promise<unknown> = Promise.resolve();
  private marks: Promise<HandOverMark[]> | null = null;
  readonly tableDir: string;

  private constructor(
    private readonly layout: LakeLayout,
    readonly job: Job,
    readonly hub: string,
    private readonly lakePartitions: number,
    /** The hub's partition ids, in the order the forwarder hashes aggregates onto them. */
    private readonly hubPartitions: string[],
    private readonly duck: Duck,
    snapshot: Snapshot,
  ) {
    this.tableDir = layout.tableDir(job.output);
    this.snapshot = snapshot;
  }

  static async open(layout: LakeLayout, job: Job, hub: string, lakePartitions: number, hubPartitions: string[]): Promise<HubJobTable> {
    const snapshot = await loadSnapshot(layout.tableDir(job.output));
    return new HubJobTable(layout, job, hub, lakePartitions, hubPartitions, await Duck.open(), snapshot);
  }

  /** Each partition's position in the table as it is now (one look at the table); a partition never read hands over from the lake. */
  positions(partitionIds: string[]): Promise<Map<string, HubPosition>> {
    return this.inTurn(async () => {
      const snapshot = await this.refreshed();
      const positions = new Map<string, HubPosition>();
      for (const id of partitionIds) positions.set(id, await this.positionIn(snapshot, id));
      return positions;
    });
  }

  /** Applies and commits one batch of a partition (events in hub order). */
  apply(partitionId: string, events: ReceivedEventData[]): Promise<HubBatchResult> {
    return this.inTurn(() => this.applyNow(partitionId, events));
  }

  /**
   * Before reading: checks the table against what the hub holds now. A position past the hub's
   * last event means another hub (recreated, or renamed over): refused. Events the hub no longer
   * holds after the position are taken from the lake, so a partition that retention emptied
   * does not leave the job waiting for events that will never come.
   */
  meetHub(partitions: PartitionProperties[]): Promise<void> {
    return this.inTurn(async () => {
      for (const properties of partitions) {
        const { partitionId, lastEnqueuedSequenceNumber: last } = properties;
        const base = await this.refreshed();
        const from = await this.positionIn(base, partitionId);
        if (from.sequence > last) {
          throw new PastHubEndError(
            `job ${this.job.name}: partition ${partitionId} of event hub ${this.hub} was read up to sequence ${from.sequence} but the hub's last sequence number is ${last}: ` +
              `it is not the hub the job read (recreated, or another hub of that name). Its events are in the lake: run \`eventlake rebuild ${this.job.name}\` ` +
              `to rebuild the table from the lake and hand over to this hub again (if the hub was recreated, first remove the forwarder's checkpoint ` +
              `forwarder/${this.hub}/checkpoint.json in the lake and run \`eventlake forward\`, so the new hub gets the lake's events).`,
          );
        }
        // A partition emptied by retention reports its last sequence number as its beginning.
        const firstHeld = properties.isEmpty ? last + 1 : properties.beginningSequenceNumber;
        if (firstHeld > from.sequence + 1) await this.fillFromLake(base, partitionId, from, firstHeld);
      }
    });
  }

  /** One thing at a time: the snapshot a batch is computed on must be the one it commits over. */
  private inTurn<T>(work: () => Promise<T>): Promise<T> {
    const run = this.turn.catch(() => undefined).then(work);
    this.turn = run;
    return run;
  }

  private async refreshed(): Promise<Snapshot> {
    this.snapshot = await refreshSnapshot(this.tableDir, this.snapshot);
    return this.snapshot;
  }

  private async positionIn(snapshot: Snapshot, partitionId: string): Promise<HubPosition> {
    const committed = committedHubPosition(snapshot, this.job, this.hub, partitionId, this.lakePartitions);
    if (committed) return committed;
    this.marks ??= readCheckpoint(this.layout, this.hub).then((c) => c.marks ?? []);
    return handOverPosition(this.job, this.hub, partitionId, lakePositions(snapshot, this.job, this.lakePartitions), await this.marks);
  }

  private async applyNow(partitionId: string, events: ReceivedEventData[]): Promise<HubBatchResult> {
    for (;;) {
      const base = await this.refreshed();
      const from = await this.positionIn(base, partitionId);
      if (events.length > 0 && events[0].sequenceNumber > from.sequence + 1) {
        // The hub no longer has the events between: take them from the lake, then look again.
        await this.fillFromLake(base, partitionId, from, events[0].sequenceNumber);
        continue;
      }
      const { fresh, position } = unseen(events, from);
      if (position.sequence <= from.sequence) return { applied: 0, skipped: events.length, committed: false, position: from };
      if (await this.tryCommit(base, partitionId, await this.linesOf(fresh), position)) {
        return { applied: fresh.length, skipped: events.length - fresh.length, committed: true, position };
      }
    }
  }

  /**
   * Applies from the lake what the hub partition carried after `from` and no longer holds, up to
   * the lake's head (read now, after `firstHeld` was seen), in chunks, each committed with the
   * lake positions it reached; the last one also moves the hub position to just before
   * `firstHeld`. A crash between chunks resumes from the committed watermarks. `from` must be
   * the position in `base`: each chunk commits over the version it was computed on.
   */
  private async fillFromLake(base: Snapshot, partitionId: string, from: HubPosition, firstHeld: number): Promise<void> {
    const hubIndex = this.hubPartitions.indexOf(partitionId);
    if (hubIndex < 0) throw new Error(`job ${this.job.name}: partition ${partitionId} is not one of the partitions of event hub ${this.hub} the forwarder hashes onto (${this.hubPartitions.join(', ')})`);
    const head = await readHead(this.layout.headFile);
    if (!head) throw new Error(`job ${this.job.name}: the lake ${this.layout.root} has no log head, so the events event hub ${this.hub} no longer holds cannot be taken from it`);
    logger.warn({ job: this.job.name, hub: this.hub, partitionId, position: from.sequence, firstHeld }, 'the hub no longer holds events after the job\'s position (retention); taking them from the lake');
    let applied = 0;
    const chunks = lakeEventsOfHubPartition(this.layout, head, from.watermarks, hubIndex, this.hubPartitions.length, Math.max(1, this.job.batchSize));
    const before = from.sequence === UNSET ? FILLING_FROM_LAKE : from.sequence;
    for await (const { lines, watermarks, final } of chunks) {
      const position = { sequence: final ? firstHeld - 1 : before, watermarks };
      // Another writer committed meanwhile: the caller looks at the table again.
      if (!(await this.tryCommit(base, partitionId, lines, position))) return;
      base = this.snapshot;
      applied += lines.length;
    }
    logger.info({ job: this.job.name, hub: this.hub, partitionId, applied }, 'applied from the lake what the hub no longer holds');
  }

  /** Commits; false when another writer took the version (the caller redoes its work on the newer table). */
  private async tryCommit(base: Snapshot, partitionId: string, lines: string[], position: HubPosition): Promise<boolean> {
    try {
      await this.commit(base, partitionId, lines, position);
      return true;
    } catch (error) {
      if (!(error instanceof ConcurrentCommitError)) throw error;
      logger.info({ job: this.job.name, partitionId }, 'another writer committed first; redoing the hub batch on the newer table');
      return false;
    }
  }

  /** The events' logged lines; a claim check's is taken from the lake. */
  private async linesOf(events: ReceivedEventData[]): Promise<string[]> {
    let head: LogHead | null = null;
    const lines: string[] = [];
    for (const event of events) {
      if (!isClaimCheck(event.properties)) {
        lines.push(JSON.stringify(event.body));
        continue;
      }
      head ??= await readHead(this.layout.headFile);
      if (!head) throw new Error(`a claim check from event hub ${this.hub} names lake event ${String(event.properties?.lakePartition)}/${String(event.properties?.lakeSequence)}, but the lake has no log head`);
      lines.push(await lakeEventAt(this.layout, head, partitionStream(Number(event.properties?.lakePartition)), Number(event.properties?.lakeSequence)));
    }
    return lines;
  }

  private async commit(base: Snapshot, partitionId: string, lines: string[], position: HubPosition): Promise<void> {
    const merge = new TableMerge(this.duck, this.tableDir, tableShape(this.job.definition), this.job.fileRows, this.job.deletionVectors);
    const applier = batchApplier(this.duck, this.job.definition, (keys) => merge.currentRows(base, keys), base.files.size === 0 ? NO_KEYS : ANY_KEY, this.job.onError, this.job.upcast);
    const poisoned = await applier.apply(linesOfEventTypes(lines, this.job.definition.eventTypes)).catch(async (error: unknown) => {
      if (error instanceof PoisonEventError) await this.deadLetter(error.poisoned, 'halted');
      throw error;
    });
    for (const p of poisoned) await this.deadLetter(p, 'skipped');
    const merged = await merge.merge(base);
    failpoint('projection.afterDataFile');
    const actions = hubCommit(this.job, base, merged.actions, this.hub, partitionId, position, await lastApplied(this.tableDir, base));
    await commitVersion(this.tableDir, base.version + 1, actions);
    failpoint('projection.afterCommit');
    this.snapshot = applyCommit(base, base.version + 1, actions);
    await this.maintain();
  }

  /** Checkpoints and compaction; another writer's commit in between just defers them. */
  private async maintain(): Promise<void> {
    try {
      this.snapshot = await maintainTable(this.duck, this.tableDir, this.job, this.snapshot, this.job.fileRows);
    } catch (error) {
      if (!(error instanceof ConcurrentCommitError)) throw error;
    }
  }

  private deadLetter({ record, error }: Poisoned, action: 'skipped' | 'halted'): Promise<void> {
    const stream = partitionStream(record.partition ?? 0);
    logger.warn({ job: this.job.name, stream, sequence: record.sequence, error: error.message, action }, 'dead letter (from Event Hubs)');
    return recordDeadLetter(this.layout, {
      job: this.job.name, stream, sequence: record.sequence, eventId: record.eventId ?? null,
      eventType: record.eventType ?? null, error: error.message, at: new Date().toISOString(), action,
    });
  }

  async close(): Promise<void> {
    await this.turn.catch(() => undefined);
    this.duck.close();
  }
}

/**
 * The events not yet applied, and the partition's position after them: events at or below the
 * hub position were applied by an earlier batch; a copy re-sent by the forwarder is at or below
 * its lake stream's watermark (the watermark moves as the batch is read, so a copy inside the
 * same batch is caught too).
 */
function unseen(events: ReceivedEventData[], from: HubPosition): { fresh: ReceivedEventData[]; position: HubPosition } {
  const watermarks = { ...from.watermarks };
  const fresh: ReceivedEventData[] = [];
  let sequence = from.sequence;
  for (const event of events) {
    if (event.sequenceNumber <= sequence) continue;
    sequence = event.sequenceNumber;
    const stream = partitionStream(Number(event.properties?.lakePartition));
    const lakeSequence = Number(event.properties?.lakeSequence);
    if (!Number.isInteger(lakeSequence) || !(stream in watermarks)) {
      throw new Error(`event ${event.sequenceNumber} of the hub has no lake position (lakePartition ${String(event.properties?.lakePartition)}, lakeSequence ${String(event.properties?.lakeSequence)}): only events the forwarder sent can be projected`);
    }
    if (lakeSequence <= watermarks[stream]) continue;
    watermarks[stream] = lakeSequence;
    fresh.push(event);
  }
  return { fresh, position: { sequence, watermarks } };
}
