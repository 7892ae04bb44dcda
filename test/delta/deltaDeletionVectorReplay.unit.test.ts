import { describe, expect, it } from 'vitest';
import { removalOf, type Action, type AddFile, type DeletionVectorDescriptor } from '../../lake/delta/actions.js';
import { actionsFromCheckpointRow, checkpointActions } from '../../lake/delta/checkpointSchema.js';
import { logicalFileKey } from '../../lake/delta/logicalFile.js';
import { replay, snapshotFromCheckpoint } from '../../lake/delta/snapshot.js';
import { assertReadable, assertWritable, deletionVectorsEnabled, DELETION_VECTOR_CONFIGURATION, DELETION_VECTOR_PROTOCOL } from '../../lake/delta/tableFeatures.js';

/**
 * Log replay with deletion vectors (PROTOCOL.md "Action Reconciliation"): a logical file is
 * (path, DV uniqueId); a commit that changes a file's DV removes (path, old DV) and adds (path,
 * new DV), and the protocol does not order actions within a commit.
 */

const dv = (name: string, cardinality = 1, offset = 1): DeletionVectorDescriptor => ({
  storageType: 'u',
  pathOrInlineDv: name.padEnd(20, '0'),
  offset,
  sizeInBytes: 34,
  cardinality,
});
const file = (path: string, deletionVector?: DeletionVectorDescriptor): AddFile => ({
  path,
  partitionValues: {},
  size: 100,
  modificationTime: 1,
  dataChange: true,
  stats: '{"numRecords":10}',
  ...(deletionVector ? { deletionVector } : {}),
});
const drop = (add: AddFile, at = 5): Action => ({ remove: removalOf(add, { deletionTimestamp: at, dataChange: true }) });
const create: Action[] = [
  { protocol: { ...DELETION_VECTOR_PROTOCOL } },
  {
    metaData: {
      id: 't',
      format: { provider: 'parquet', options: {} },
      schemaString: '{"type":"struct","fields":[]}',
      partitionColumns: [],
      configuration: { ...DELETION_VECTOR_CONFIGURATION },
    },
  },
];

const plain = file('a.parquet');
const first = file('a.parquet', dv('first', 1));
const second = file('a.parquet', dv('second', 3));

describe('log replay with deletion vectors', () => {
  it.each([
    ['remove first', [drop(plain), { add: first }]],
    ['add first', [{ add: first }, drop(plain)]],
  ])('a file getting its first DV is live with it, whichever action comes first (%s)', (_, actions: Action[]) => {
    const snapshot = replay([
      { version: 0, actions: [...create, { add: plain }] },
      { version: 1, actions },
    ]);
    expect([...snapshot.files.values()]).toEqual([first]);
    expect([...snapshot.tombstones.keys()]).toEqual(['a.parquet']);
  });

  it.each([
    ['remove first', [drop(first), { add: second }]],
    ['add first', [{ add: second }, drop(first)]],
  ])('a file whose DV changes is live with the new DV, the old one a tombstone (%s)', (_, actions: Action[]) => {
    const snapshot = replay([
      { version: 0, actions: [...create, { add: plain }] },
      { version: 1, actions: [drop(plain), { add: first }] },
      { version: 2, actions },
    ]);
    expect(snapshot.files.get('a.parquet')?.deletionVector).toEqual(second.deletionVector);
    expect(snapshot.files.size).toBe(1);
    expect(new Set(snapshot.tombstones.keys())).toEqual(new Set(['a.parquet', logicalFileKey('a.parquet', first.deletionVector)]));
    expect(snapshot.tombstones.get(logicalFileKey('a.parquet', first.deletionVector))?.deletionVector).toEqual(first.deletionVector);
  });

  it('removing (path, current DV) removes the file; a remove naming another DV does not', () => {
    const base = replay([{ version: 0, actions: [...create, { add: first }] }]);
    const stale = replay([{ version: 1, actions: [drop(plain)] }], base);
    expect([...stale.files.values()]).toEqual([first]); // (a.parquet, no DV) is another logical file
    const removed = replay([{ version: 1, actions: [drop(first)] }], base);
    expect(removed.files.size).toBe(0);
    expect([...removed.tombstones.values()][0].deletionVector).toEqual(first.deletionVector);
  });

  it('re-adding a removed (path, DV) clears exactly its tombstone', () => {
    const snapshot = replay([
      { version: 0, actions: [...create, { add: plain }] },
      { version: 1, actions: [drop(plain), { add: first }] },
      { version: 2, actions: [drop(first)] },
      { version: 3, actions: [{ add: first }] },
    ]);
    expect([...snapshot.files.values()]).toEqual([first]);
    expect([...snapshot.tombstones.keys()]).toEqual(['a.parquet']);
  });

  it('the same offset in another DV file, or another offset in the same file, is another DV', () => {
    expect(logicalFileKey('a', dv('x', 1, 1))).not.toBe(logicalFileKey('a', dv('x', 1, 9)));
    expect(logicalFileKey('a', dv('x', 1, 1))).not.toBe(logicalFileKey('a', dv('y', 1, 1)));
    expect(logicalFileKey('a', dv('x', 1, 1))).toBe(logicalFileKey('a', { ...dv('x', 5, 1), sizeInBytes: 99 }));
  });

  it('a remove built by removalOf carries the DV, size, partition values and stats of the file', () => {
    expect(removalOf(first, { deletionTimestamp: 7, dataChange: false })).toEqual({
      path: 'a.parquet',
      deletionTimestamp: 7,
      dataChange: false,
      extendedFileMetadata: true,
      partitionValues: {},
      size: 100,
      stats: '{"numRecords":10}',
      deletionVector: first.deletionVector,
    });
  });
});

describe('checkpoint rows with deletion vectors', () => {
  const snapshot = replay([
    { version: 0, actions: [...create, { add: plain }] },
    { version: 1, actions: [drop(plain, Date.now()), { add: file('a.parquet', { storageType: 'i', pathOrInlineDv: 'x'.repeat(20), sizeInBytes: 20, cardinality: 2 }) }] },
    { version: 2, actions: [drop(file('b.parquet', dv('b', 1)), Date.now())] },
  ]);

  it('carry each live file and tombstone with its DV, and read back to the same files and tombstones', () => {
    const rows = checkpointActions(snapshot);
    // As DuckDB's to_json gives a checkpoint row: absent fields are nulls, in the DV struct too.
    const asRead = rows.map((row) => JSON.parse(JSON.stringify(row, (_, v) => v)) as Record<string, unknown>).map(withNullFields);
    const restored = snapshotFromCheckpoint(2, asRead.flatMap(actionsFromCheckpointRow));
    expect([...restored.files.values()]).toEqual([...snapshot.files.values()]);
    expect([...restored.tombstones.keys()]).toEqual([...snapshot.tombstones.keys()]);
    expect(restored.tombstones.size).toBe(2);
    expect(restored.files.get('a.parquet')?.deletionVector).not.toHaveProperty('offset');
  });
});

describe('protocol with deletion vectors', () => {
  const snapshotWith = (protocol: object, configuration: Record<string, string> = {}) =>
    replay([{ version: 0, actions: [{ protocol } as Action, { metaData: { ...(create[1] as { metaData: object }).metaData, configuration } } as Action] }]);

  it('reads reader 3 / writer 7 with deletionVectors, and enables writing DVs only with delta.enableDeletionVectors=true', () => {
    expect(() => assertReadable('/t', snapshotWith(DELETION_VECTOR_PROTOCOL))).not.toThrow();
    expect(() => assertWritable('/t', DELETION_VECTOR_PROTOCOL)).not.toThrow();
    expect(deletionVectorsEnabled(snapshotWith(DELETION_VECTOR_PROTOCOL, { ...DELETION_VECTOR_CONFIGURATION }))).toBe(true);
    expect(deletionVectorsEnabled(snapshotWith(DELETION_VECTOR_PROTOCOL))).toBe(false);
    expect(deletionVectorsEnabled(snapshotWith({ minReaderVersion: 1, minWriterVersion: 2 }, { ...DELETION_VECTOR_CONFIGURATION }))).toBe(false);
  });

  it('still refuses reader features it does not implement, naming them, and reader version 2', () => {
    const ntz = snapshotWith({ minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ['deletionVectors', 'timestampNtz'], writerFeatures: [] });
    expect(() => assertReadable('/t', ntz)).toThrow(
      'Delta table /t needs Delta reader version 3 (features: deletionVectors, timestampNtz); eventlake reads reader version 1 tables, ' +
        'and reader version 3 tables with the features deletionVectors only (unsupported: timestampNtz)',
    );
    expect(() => assertReadable('/t', snapshotWith({ minReaderVersion: 2, minWriterVersion: 5 }))).toThrow(/unsupported: reader version 2/);
  });
});

/** Every field of the checkpoint schema's add/remove DV struct present, null when absent, as in a Parquet row. */
function withNullFields(row: Record<string, unknown>): Record<string, unknown> {
  const kind = Object.keys(row)[0];
  const action = row[kind] as Record<string, unknown>;
  if (action.deletionVector) {
    action.deletionVector = { storageType: null, pathOrInlineDv: null, offset: null, sizeInBytes: null, cardinality: null, maxRowIndex: null, ...(action.deletionVector as object) };
  }
  return { txn: null, add: null, remove: null, metaData: null, protocol: null, [kind]: action };
}
