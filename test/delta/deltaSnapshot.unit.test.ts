import { describe, expect, it } from 'vitest';
import type { Action, AddFile } from '../../lake/delta/actions.js';
import { parseActions, formatActions } from '../../lake/delta/actions.js';
import {
  applyCommit,
  dataFilePath,
  emptySnapshot,
  encodeDataPath,
  replay,
  snapshotFromCheckpoint,
} from '../../lake/delta/snapshot.js';

const protocol: Action = { protocol: { minReaderVersion: 1, minWriterVersion: 2 } };
const metadata = (id: string, schemaString = '{"type":"struct","fields":[]}'): Action => ({
  metaData: { id, format: { provider: 'parquet', options: {} }, schemaString, partitionColumns: [], configuration: {} },
});
const add = (path: string, size = 1): AddFile => ({ path, partitionValues: {}, size, modificationTime: 1, dataChange: true });
const remove = (path: string, deletionTimestamp = 5): Action => ({ remove: { path, deletionTimestamp, dataChange: true } });

describe('log replay (pure)', () => {
  it('starts from an empty table at version -1', () => {
    const empty = emptySnapshot();
    expect(empty.version).toBe(-1);
    expect(empty.files.size).toBe(0);
    expect(empty.protocol).toBeUndefined();
  });

  it('an add then a remove of the same path leaves no live file, only a tombstone', () => {
    const snapshot = replay([
      { version: 0, actions: [protocol, metadata('t'), { add: add('a') }, { add: add('b') }] },
      { version: 1, actions: [remove('a', 42)] },
    ]);
    expect([...snapshot.files.keys()]).toEqual(['b']);
    expect(snapshot.tombstones.get('a')).toEqual({ path: 'a', deletionTimestamp: 42, dataChange: true });
    expect(snapshot.version).toBe(1);
  });

  it('re-adding a removed path brings it back and clears its tombstone', () => {
    const snapshot = replay([
      { version: 0, actions: [protocol, metadata('t'), { add: add('a', 1) }] },
      { version: 1, actions: [remove('a')] },
      { version: 2, actions: [{ add: add('a', 7) }] },
    ]);
    expect(snapshot.files.get('a')?.size).toBe(7);
    expect(snapshot.tombstones.size).toBe(0);
  });

  it('a second add of a live path replaces its entry (newer stats win)', () => {
    const snapshot = replay([
      { version: 0, actions: [{ add: add('a', 1) }] },
      { version: 1, actions: [{ add: { ...add('a', 1), stats: '{"numRecords":3}' } }] },
    ]);
    expect(snapshot.files.get('a')?.stats).toBe('{"numRecords":3}');
  });

  it('keeps the latest txn per appId, even when its version goes down', () => {
    const snapshot = replay([
      { version: 0, actions: [{ txn: { appId: 'orders', version: 10 } }, { txn: { appId: 'chargers', version: 3 } }] },
      { version: 1, actions: [{ txn: { appId: 'orders', version: 11 } }] },
      { version: 2, actions: [{ txn: { appId: 'chargers', version: 2 } }] },
    ]);
    expect(snapshot.txns.get('orders')?.version).toBe(11);
    expect(snapshot.txns.get('chargers')?.version).toBe(2);
  });

  it('a later metaData or protocol replaces the earlier one whole', () => {
    const snapshot = replay([
      { version: 0, actions: [protocol, metadata('first', 'old')] },
      { version: 1, actions: [metadata('second', 'new'), { protocol: { minReaderVersion: 1, minWriterVersion: 3 } }] },
    ]);
    expect(snapshot.metadata?.id).toBe('second');
    expect(snapshot.metadata?.schemaString).toBe('new');
    expect(snapshot.protocol).toEqual({ minReaderVersion: 1, minWriterVersion: 3 });
  });

  it('takes commitTimestamp from the commitInfo of the latest commit only', () => {
    const dated = replay([{ version: 0, actions: [{ commitInfo: { timestamp: 1000 } }, protocol] }]);
    expect(dated.commitTimestamp).toBe(1000);
    const undated = applyCommit(dated, 1, [{ add: add('x') }]);
    expect(undated.commitTimestamp).toBeUndefined();
  });

  it('leaves the snapshot it was given untouched', () => {
    const before = replay([{ version: 0, actions: [protocol, metadata('t'), { add: add('a') }] }]);
    const after = applyCommit(before, 1, [remove('a'), { add: add('b') }]);
    expect([...before.files.keys()]).toEqual(['a']);
    expect(before.version).toBe(0);
    expect([...after.files.keys()]).toEqual(['b']);
  });

  it('refuses a commit that does not follow the snapshot version', () => {
    expect(() => applyCommit(emptySnapshot(), 1, [protocol])).toThrow(/cannot apply commit 1 to a snapshot at version -1/);
  });

  it('a checkpoint becomes the snapshot at its version, ready for the next commit', () => {
    const base = snapshotFromCheckpoint(10, [protocol, metadata('t'), { add: add('a') }, remove('z')]);
    expect(base.version).toBe(10);
    expect(base.tombstones.has('z')).toBe(true);
    expect(applyCommit(base, 11, [{ add: add('b') }]).files.size).toBe(2);
  });
});

describe('data file paths', () => {
  it('decodes URL-encoded relative paths, keeping partition folders', () => {
    expect(dataFilePath('date=2024-01-01/part%20one%25.parquet')).toBe('date=2024-01-01/part one%.parquet');
  });

  it('turns file: URIs into absolute paths and refuses remote stores', () => {
    expect(dataFilePath('file:///tmp/t/a.parquet')).toBe('/tmp/t/a.parquet');
    expect(dataFilePath('file:/tmp/t/a.parquet')).toBe('/tmp/t/a.parquet');
    expect(() => dataFilePath('s3://bucket/a.parquet')).toThrow(/not on the local file system/);
  });

  it('encodes what it decodes', () => {
    const relative = 'city=São Paulo/part 1#.parquet';
    expect(dataFilePath(encodeDataPath(relative))).toBe(relative);
  });
});

describe('commit file lines', () => {
  it('parses one action per line, skipping blank lines and unknown action kinds', () => {
    const text = '{"commitInfo":{"timestamp":1}}\n\n{"cdc":{"path":"c"}}\n{"add":{"path":"a"}}\n';
    expect(parseActions(text)).toEqual([{ commitInfo: { timestamp: 1 } }, { add: { path: 'a' } }]);
  });

  it('names the line that is not JSON', () => {
    expect(() => parseActions('{"add":{}}\nnot json', '00.json')).toThrow(/00\.json: line 2 is not JSON/);
  });

  it('formats actions so that parsing gives them back', () => {
    const actions: Action[] = [protocol, metadata('t'), { add: add('a') }];
    expect(parseActions(formatActions(actions))).toEqual(actions);
  });
});
