/**
 * The sealed log: committed events copied into Parquet, which a SQL projection's rebuild reads
 * with one DuckDB statement before it goes on from the NDJSON log. The rebuilt table must say
 * exactly what a rebuild from the NDJSON log alone says.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { sampleCommands } from '../../domains/sampleCommands.js';
import { Ingester } from '../../ingest/ingester.js';
import { loadSnapshot, localFiles, snapshotFilePaths } from '../../lake/delta/deltaTable.js';
import { Duck, sqlPathList, sqlString } from '../../lake/duckdb.js';
import { LakeLayout } from '../../lake/layout.js';
import { readHead } from '../../lake/log/logHead.js';
import { sealedRanges, sealLog } from '../../lake/log/sealedSegments.js';
import { lastApplied } from '../../projections/jobCommits.js';
import { runJob } from '../../projections/jobRunner.js';
import { loadConfig, type EventlakeConfig } from '../../projections/jobsConfig.js';
import { tempDir } from '../support/cli.js';

const commands = [...sampleCommands({ count: 3000, seed: 5 })];

describe('rebuilding a SQL projection from the sealed log', () => {
  let dir: string;
  let config: EventlakeConfig;

  const layoutAt = (root: string) => new LakeLayout(root);
  const ingest = async (layout: LakeLayout, from: number, to: number) => {
    const ingester = await Ingester.open(layout, config.registry, { partitions: 3 });
    commands.slice(from, to).forEach((command, i) => ingester.decide(command, `test:${from + i}`));
    await ingester.commit();
    await ingester.close();
  };
  const job = () => config.jobs.find((j) => j.name === 'daily_status_changes')!;
  /** The read model's answer: the table's rows (one per day and status). */
  const dailyChanges = async (layout: LakeLayout) => {
    const tableDir = layout.tableDir('daily_status_changes');
    const files = snapshotFilePaths(tableDir, await loadSnapshot(tableDir));
    const duck = await Duck.open();
    try {
      return await duck.rows(`SELECT CAST(day AS VARCHAR) AS day, status, changes FROM read_parquet(${sqlPathList(files)}) ORDER BY ALL`);
    } finally {
      duck.close();
    }
  };

  beforeEach(async () => {
    dir = tempDir('eventlake-sealed-');
    const file = path.join(dir, 'jobs.config.json');
    fs.writeFileSync(file, JSON.stringify({ lake: './lake', jobs: [{ name: 'daily_status_changes', projection: 'daily_status_changes', batchSize: 300 }] }));
    config = await loadConfig({ config: file });
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('sealed ranges cover the committed log contiguously, and never an uncommitted tail', async () => {
    const layout = layoutAt(config.lakeDir);
    await ingest(layout, 0, 1000);
    // A torn tail after the head (a crash mid-append) is not part of the log.
    const head = (await readHead(layout.headFile))!;
    const active = path.join(layout.streamDir('p0'), `${String(head.streams.p0.segment).padStart(20, '0')}.ndjson`);
    fs.appendFileSync(active, '{"eventId":"torn');
    const first = await sealLog(layout);
    for (const stream of ['p0', 'p1', 'p2']) {
      const ranges = await sealedRanges(layout, stream);
      expect(ranges[0].first).toBe(1);
      expect(ranges.at(-1)!.last).toBe(head.streams[stream].sequence);
      expect(first.sealed[stream]).toBe(head.streams[stream].sequence);
    }
    fs.truncateSync(active, head.streams.p0.offset);
    await ingest(layout, 1000, 1500);
    const second = await sealLog(layout);
    const after = (await readHead(layout.headFile))!;
    for (const stream of ['p0', 'p1', 'p2']) {
      expect(second.sealed[stream]).toBe(after.streams[stream].sequence - head.streams[stream].sequence);
      expect((await sealedRanges(layout, stream)).map((r) => r.first)).toEqual([1, head.streams[stream].sequence + 1]);
    }
    expect((await sealLog(layout)).sealed).toEqual({});
  });

  test('sealed prefix plus the NDJSON rest gives the same read model as the NDJSON log alone', async () => {
    const layout = layoutAt(config.lakeDir);
    await ingest(layout, 0, 2000);
    await sealLog(layout);
    await ingest(layout, 2000, 3000); // not sealed: read from NDJSON after the sealed prefix

    const plain = layoutAt(path.join(dir, 'plain'));
    fs.cpSync(layout.root, plain.root, { recursive: true });
    fs.rmSync(path.join(plain.root, 'log', 'sealed'), { recursive: true });

    const [fromSealed, fromNdjson] = [await runJob(layout, job(), { mode: 'rebuild' }), await runJob(plain, job(), { mode: 'rebuild' })];
    expect(fromSealed.applied).toBe(fromNdjson.applied);
    const answer = await dailyChanges(layout);
    expect(answer.length).toBeGreaterThan(3);
    expect(answer).toEqual(await dailyChanges(plain));

    // The checkpoint is the log's head, so an incremental run after it finds nothing to do.
    const head = (await readHead(layout.headFile))!;
    const snapshot = await loadSnapshot(layout.tableDir('daily_status_changes'));
    for (const stream of ['p0', 'p1', 'p2']) expect(snapshot.txns.get(`daily_status_changes@${job().definition.version}/${stream}`)?.version).toBe(head.streams[stream].sequence);
    expect((await runJob(layout, job())).applied).toBe(0);

    // The rebuild read the sealed prefix, not the NDJSON: emptied sealed files change the answer.
    const tampered = layoutAt(path.join(dir, 'tampered'));
    fs.cpSync(layout.root, tampered.root, { recursive: true });
    const duck = await Duck.open();
    try {
      for (const range of await sealedRanges(tampered, 'p0')) {
        const [file] = await localFiles([range.location]);
        await duck.run(`COPY (SELECT * FROM read_parquet(${sqlString(file)}) LIMIT 0) TO ${sqlString(`${file}.empty`)} (FORMAT parquet)`);
        fs.renameSync(`${file}.empty`, file);
      }
    } finally {
      duck.close();
    }
    await runJob(tampered, job(), { mode: 'rebuild' });
    expect(await dailyChanges(tampered)).not.toEqual(answer);
  });

  test('a rebuild wholly from the sealed log records each stream\'s last event and its business time, as one from NDJSON does', async () => {
    const layout = layoutAt(config.lakeDir);
    await ingest(layout, 0, 1500);
    await sealLog(layout);
    const plain = layoutAt(path.join(dir, 'plain'));
    fs.cpSync(layout.root, plain.root, { recursive: true });
    fs.rmSync(path.join(plain.root, 'log', 'sealed'), { recursive: true });

    await runJob(layout, job(), { mode: 'rebuild' });
    await runJob(plain, job(), { mode: 'rebuild' });
    const appliedOf = async (at: LakeLayout) => {
      const tableDir = at.tableDir('daily_status_changes');
      return lastApplied(tableDir, await loadSnapshot(tableDir));
    };
    const [fromSealed, fromNdjson] = [await appliedOf(layout), await appliedOf(plain)];
    // Status's lag in seconds counts from these business times.
    expect(Object.keys(fromSealed).sort()).toEqual(['p0', 'p1', 'p2']);
    for (const stream of ['p0', 'p1', 'p2']) expect(fromSealed[stream].timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(fromSealed).toEqual(fromNdjson);
  });
});
