import { describe, expect, it } from 'vitest';
import { actionsFromCheckpointRow, checkpointActions } from '../../lake/delta/checkpointSchema.js';
import { emptySnapshot, replay } from '../../lake/delta/snapshot.js';

const DAY = 24 * 60 * 60 * 1000;
const NOW = Date.UTC(2026, 0, 10);

const snapshot = replay([
  {
    version: 0,
    actions: [
      { commitInfo: { timestamp: NOW - 20 * DAY } },
      { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
      {
        metaData: { id: 't', format: { provider: 'parquet', options: {} }, schemaString: '{}', partitionColumns: [], configuration: {} },
      },
      { add: { path: 'old', partitionValues: {}, size: 1, modificationTime: 1, dataChange: true } },
      { add: { path: 'recent', partitionValues: {}, size: 1, modificationTime: 1, dataChange: true } },
      { add: { path: 'live', partitionValues: {}, size: 1, modificationTime: 1, dataChange: true } },
      { txn: { appId: 'orders', version: 7 } },
    ],
  },
  {
    version: 1,
    actions: [
      { remove: { path: 'old', deletionTimestamp: NOW - 8 * DAY, dataChange: true } },
      { remove: { path: 'recent', deletionTimestamp: NOW - DAY, dataChange: true } },
    ],
  },
]);

describe('checkpoint rows (pure)', () => {
  it('hold protocol, metadata, txns, live files and unexpired tombstones, and never commitInfo', () => {
    const rows = checkpointActions(snapshot, { now: NOW });
    expect(rows.map((row) => Object.keys(row)[0])).toEqual(['protocol', 'metaData', 'txn', 'add', 'remove']);
    expect(rows).toContainEqual({ add: expect.objectContaining({ path: 'live' }) });
    expect(rows).toContainEqual({ remove: expect.objectContaining({ path: 'recent' }) });
    expect(rows).not.toContainEqual({ remove: expect.objectContaining({ path: 'old' }) });
  });

  it('keep every tombstone within a longer retention', () => {
    const rows = checkpointActions(snapshot, { now: NOW, tombstoneRetentionMs: 30 * DAY });
    expect(rows.filter((row) => 'remove' in row)).toHaveLength(2);
  });

  it('cannot be made for a table without protocol and metadata', () => {
    expect(() => checkpointActions(emptySnapshot())).toThrow(/without a version, protocol and metadata/);
  });

  it('read back as the actions they hold, without the nulls and derived columns Parquet adds', () => {
    const row = {
      txn: null,
      add: { path: 'a', partitionValues: {}, size: 3, dataChange: false, tags: null, stats: null, stats_parsed: { numRecords: 1 } },
      remove: null,
      domainMetadata: { domain: 'x' },
    };
    expect(actionsFromCheckpointRow(row)).toEqual([{ add: { path: 'a', partitionValues: {}, size: 3, dataChange: false } }]);
  });
});
