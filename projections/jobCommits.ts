import { randomUUID } from 'node:crypto';
import { removalOf, type Action, type AddFile, type CommitInfo, type Metadata, type Protocol } from '../lake/delta/actions.js';
import { DELETION_VECTOR_CONFIGURATION, DELETION_VECTOR_PROTOCOL, deletionVectorsEnabled, readCommit } from '../lake/delta/deltaTable.js';
import type { Snapshot } from '../lake/delta/snapshot.js';
import { sparkSchemaString } from '../lake/delta/sparkSchema.js';
import { definitionHash } from './definitionHash.js';
import { tableShape } from './tableShape.js';
import { hubAppId, hubTxns, UNSET, type HubPosition } from './hubPositions.js';
import { checkpointAppId, type Job, type Position } from './jobSource.js';

/** Per stream, the last position applied to the table; kept in commitInfo for lag in seconds. */
export type Applied = Record<string, Position>;

const ENGINE = 'eventlake/0.1.0';

/**
 * One incremental batch: its MERGE (the files it removes and adds, see tableMerge.ts) and the new
 * checkpoint, together.
 */
export function appendCommit(job: Job, snapshot: Snapshot, data: Action[], advanced: Map<string, Position>, applied: Applied): Action[] {
  const now = Date.now();
  const actions: Action[] = [commitInfo(job, applied, now, 'MERGE', { predicate: mergePredicate(job) }), ...tableSetup(job, snapshot, now)];
  actions.push(...data);
  for (const [stream, position] of advanced) actions.push({ txn: { appId: checkpointAppId(job, stream), version: position.sequence, lastUpdated: now } });
  return actions;
}

/**
 * One batch read from a hub partition: the data file (if any rows) and the partition's new
 * position (hub sequence and lake watermarks), together. `applied` stays the lake catch-up's.
 */
export function hubCommit(job: Job, snapshot: Snapshot, data: Action[], hub: string, partitionId: string, position: HubPosition, applied: Applied): Action[] {
  const now = Date.now();
  const actions: Action[] = [commitInfo(job, applied, now, 'MERGE', { predicate: mergePredicate(job), source: `hub:${hub}/${partitionId}` }), ...tableSetup(job, snapshot, now)];
  actions.push(...data);
  actions.push({ txn: { appId: hubAppId(job, hub, partitionId), version: position.sequence, lastUpdated: now } });
  for (const [stream, sequence] of Object.entries(position.watermarks)) {
    actions.push({ txn: { appId: hubAppId(job, hub, partitionId, stream), version: sequence, lastUpdated: now } });
  }
  return actions;
}

/** The switch at the end of a rebuild: every live file out, every rebuilt file in, one commit. */
export function overwriteCommit(job: Job, snapshot: Snapshot, adds: AddFile[], applied: Applied): Action[] {
  const now = Date.now();
  const actions: Action[] = [commitInfo(job, applied, now, 'WRITE', { mode: 'Overwrite', partitionBy: '[]' })];
  const protocol = protocolFor(job, snapshot);
  if (protocol) actions.push({ protocol });
  actions.push({ metaData: metadata(job, snapshot, now) });
  for (const add of snapshot.files.values()) actions.push({ remove: removalOf(add, { deletionTimestamp: now, dataChange: true }) });
  for (const add of adds) actions.push({ add });
  for (const [stream, position] of Object.entries(applied)) {
    actions.push({ txn: { appId: checkpointAppId(job, stream), version: position.sequence, lastUpdated: now } });
  }
  // The rebuilt model holds the lake up to `applied`; a job on Event Hubs hands over afresh from there.
  for (const { appId, version } of hubTxns(snapshot, job)) {
    if (version !== UNSET) actions.push({ txn: { appId, version: UNSET, lastUpdated: now } });
  }
  return actions;
}

/**
 * What a new table, or one opting in to deletion vectors, gets in the commit: its protocol
 * (reader 1 / writer 2, or reader 3 / writer 7 with the `deletionVectors` feature) and metadata.
 * Protocols only move up: a table with deletion vectors keeps them.
 */
function tableSetup(job: Job, snapshot: Snapshot, now: number): Action[] {
  const protocol = protocolFor(job, snapshot);
  return protocol ? [{ protocol }, { metaData: metadata(job, snapshot, now) }] : [];
}

function protocolFor(job: Job, snapshot: Snapshot): Protocol | null {
  if (job.deletionVectors && !deletionVectorsEnabled(snapshot)) return { ...DELETION_VECTOR_PROTOCOL };
  return snapshot.version < 0 ? { minReaderVersion: 1, minWriterVersion: 2 } : null;
}

/** How the batch's rows matched the table's, for people reading the history (DESCRIBE HISTORY shows it). */
function mergePredicate(job: Job): string {
  const { key } = tableShape(job.definition);
  return key.length === 0 ? 'append' : key.map((k) => `target.${k} = source.${k}`).join(' AND ');
}

function commitInfo(job: Job, applied: Applied, now: number, operation: string, operationParameters: Record<string, string>): Action {
  const info: CommitInfo = {
    timestamp: now,
    operation,
    operationParameters,
    engineInfo: ENGINE,
    eventlake: { job: job.name, projection: job.projection, projectionVersion: job.definition.version, applied },
  };
  return { commitInfo: info };
}

/** The table's metadata: kept id, schema from the projection's columns. */
function metadata(job: Job, snapshot: Snapshot, now: number): Metadata {
  return {
    id: snapshot.metadata?.id ?? randomUUID(),
    name: job.output,
    description: job.definition.description,
    format: { provider: 'parquet', options: {} },
    schemaString: sparkSchemaString(job.definition.columns),
    partitionColumns: [],
    // Which code built the table: a later run with another version rebuilds, and status reports
    // a definition that changed without a version bump.
    configuration: {
      ...(job.deletionVectors || deletionVectorsEnabled(snapshot) ? DELETION_VECTOR_CONFIGURATION : {}),
      'eventlake.projection': job.projection,
      'eventlake.projectionVersion': String(job.definition.version),
      'eventlake.definitionHash': definitionHash(job.definition),
    },
    createdTime: snapshot.metadata?.createdTime ?? now,
  };
}

/**
 * The applied positions recorded by the table's latest data commit (empty for a new table).
 * Housekeeping commits (compaction) carry none, so look back past them.
 */
export async function lastApplied(tableDir: string, snapshot: Snapshot): Promise<Applied> {
  for (let version = snapshot.version; version >= Math.max(0, snapshot.version - 20); version--) {
    const actions = await readCommit(tableDir, version).catch(() => [] as Action[]);
    for (const action of actions) {
      const applied = 'commitInfo' in action ? (action.commitInfo.eventlake as { applied?: Applied } | undefined)?.applied : undefined;
      if (applied) return { ...applied };
    }
  }
  return {};
}

/** The projection version that built the table, or null for a table not yet created. */
export function builtVersion(snapshot: Snapshot): number | null {
  const value = snapshot.metadata?.configuration?.['eventlake.projectionVersion'];
  return value === undefined ? null : Number(value);
}
