import { describe, expect, it } from 'vitest';
import { logListingOf, type LogListing } from '../../lake/delta/logFiles.js';
import { earliestReadableVersion, planReplay } from '../../lake/delta/replayPlan.js';

const pad = (v: number) => String(v).padStart(20, '0');
const listing = (names: string[]): LogListing => logListingOf('/t/_delta_log', names);
const commits = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `${pad(from + i)}.json`);

describe('reading the _delta_log listing (pure)', () => {
  it('finds commits and complete checkpoints, ignoring temp files and incomplete multi-part checkpoints', () => {
    const found = listing([
      ...commits(0, 3),
      `${pad(2)}.checkpoint.parquet`,
      `${pad(3)}.checkpoint.0000000001.0000000002.parquet`,
      `.${pad(4)}.json.1234.tmp`,
      '_last_checkpoint',
      `.${pad(0)}.json.crc`,
    ]);
    expect(found.commits).toEqual([0, 1, 2, 3]);
    expect(found.checkpoints).toEqual([{ version: 2, paths: [`/t/_delta_log/${pad(2)}.checkpoint.parquet`] }]);
  });

  it('accepts a multi-part checkpoint once every part is there', () => {
    const found = listing([
      `${pad(5)}.checkpoint.0000000002.0000000002.parquet`,
      `${pad(5)}.checkpoint.0000000001.0000000002.parquet`,
    ]);
    expect(found.checkpoints[0].version).toBe(5);
    expect(found.checkpoints[0].paths).toHaveLength(2);
  });
});

describe('planning a replay (pure)', () => {
  const log = listing([...commits(0, 14), `${pad(10)}.checkpoint.parquet`]);

  it('starts from the newest checkpoint at or before the target', () => {
    const plan = planReplay('/t', log, 14);
    expect(plan.checkpoint?.version).toBe(10);
    expect(plan.commits).toEqual([11, 12, 13, 14]);
  });

  it('never uses a checkpoint newer than the time-travel target', () => {
    const plan = planReplay('/t', log, 7);
    expect(plan.checkpoint).toBeUndefined();
    expect(plan.commits).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('ignores a _last_checkpoint hint that points at a missing checkpoint', () => {
    expect(planReplay('/t', log, 14, { version: 12, size: 3 }).checkpoint?.version).toBe(10);
  });

  it('names the table and the version that does not exist', () => {
    expect(() => planReplay('/t', log, 15)).toThrow('version 15 of Delta table /t does not exist (versions go from 0 to 14)');
    expect(() => planReplay('/t', log, -1)).toThrow(/version -1 of Delta table \/t does not exist/);
  });

  it('says a version was cleaned up when the log now starts at a checkpoint', () => {
    const cleaned = listing([...commits(10, 14), `${pad(10)}.checkpoint.parquet`]);
    expect(earliestReadableVersion(cleaned)).toBe(10);
    expect(() => planReplay('/t', cleaned, 4)).toThrow(
      'version 4 of Delta table /t was cleaned up from the log; the earliest readable version is 10',
    );
    expect(planReplay('/t', cleaned, 12).commits).toEqual([11, 12]);
  });

  it('reports a hole in the log', () => {
    const holed = listing(commits(0, 5).filter((name) => !name.startsWith(pad(3))));
    expect(() => planReplay('/t', holed, 5)).toThrow(/commit file of version 3 is missing/);
  });

  it('says an empty table has no versions', () => {
    expect(() => planReplay('/t', listing([]), 0)).toThrow('Delta table /t has no versions yet');
  });
});
