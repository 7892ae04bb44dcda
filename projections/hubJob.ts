import type { ReceivedEventData } from '@azure/event-hubs';
import { commitVersion, ConcurrentCommitError, loadSnapshot, refreshSnapshot } from '../lake/delta/deltaTable.js';
import { applyCommit, type Snapshot } from '../lake/delta/snapshot.js';
import { Duck } from '../lake/duckdb.js';
import { failpoint } from '../lake/failpoints.js';
import type { LakeLayout } from '../lake/layout.js';
import { logger } from '../lake/logger.js';
import { partitionStream } from '../lake/log/logMeta.js';
import { readCheckpoint, type HandOverMark } from '../lake/stream/forwarderCheckpoint.js';
import { batchApplier, PoisonEventError, type Poisoned } from './applyBatch.js';
import { TableMerge } from './tableMerge.js';
import { tableShape } from './tableShape.js';
import { recordDeadLetter } from './deadLetters.js';
import { committedHubPosition, handOverPosition, lakePositions, type HubPosition } from './hubPositions.js';
import { hubCommit, lastApplied } from './jobCommits.js';
import { linesOfEventTypes, type Job } from './jobSource.js';
import { maintainTable } from './tableMaintenance.js';

/** What one hub batch did. */
export interface HubBatchResult {
  /** Events applied (after dropping what was applied before). */
  applied: number;
  /** Copies skipped: at or below the partition's position or a lake watermark. */
  skipped: number;
  /** True when a commit was made. */
  committed: boolean;
}

/**
 * A job's table fed from Event Hubs, one hub partition's batch at a time. Several instances (in
 * one process or many) may feed the same table: each batch is applied to the table as it is now
 * and committed optimistically at the next version. If another writer took that version, the
 * batch is redone on the newer table, where the partition's position already shows what the
 * other writer applied (after a rebalance), so nothing is applied twice or skipped.
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
    private readonly duck: Duck,
    snapshot: Snapshot,
  ) {
    this.tableDir = layout.tableDir(job.output);
    this.snapshot = snapshot;
  }

  static async open(layout: LakeLayout, job: Job, hub: string, lakePartitions: number): Promise<HubJobTable> {
    const snapshot = await loadSnapshot(layout.tableDir(job.output));
    return new HubJobTable(layout, job, hub, lakePartitions, await Duck.open(), snapshot);
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
      const { fresh, position } = unseen(events, from);
      if (position.sequence <= from.sequence) return { applied: 0, skipped: events.length, committed: false };
      try {
        await this.commit(base, partitionId, fresh, position);
        return { applied: fresh.length, skipped: events.length - fresh.length, committed: true };
      } catch (error) {
        if (!(error instanceof ConcurrentCommitError)) throw error;
        logger.info({ job: this.job.name, partitionId }, 'another writer committed first; redoing the hub batch on the newer table');
      }
    }
  }

  private async commit(base: Snapshot, partitionId: string, fresh: ReceivedEventData[], position: HubPosition): Promise<void> {
    const merge = new TableMerge(this.duck, this.tableDir, tableShape(this.job.definition), this.job.fileRows, this.job.deletionVectors);
    const applier = batchApplier(this.duck, this.job.definition, (keys) => merge.currentRows(base, keys), base.files.size === 0, this.job.onError, this.job.upcast);
    const lines = fresh.map((event) => JSON.stringify(event.body));
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
