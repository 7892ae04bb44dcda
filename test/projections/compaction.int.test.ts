import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { numRecords } from '../../lake/delta/actions.js';
import { loadSnapshot } from '../../lake/delta/deltaTable.js';
import { Duck } from '../../lake/duckdb.js';
import { LakeLayout } from '../../lake/layout.js';
import { loadConfig } from '../../projections/jobsConfig.js';
import { compact, isBaseFile } from '../../projections/tableMaintenance.js';
import { eventlake, eventlakeJson, tempDir, writeNdjson } from '../support/cli.js';

describe('compaction', () => {
  it('rewrites only the small files, leaves large ones alone, and keeps the read model', async () => {
    const dir = tempDir();
    const config = path.join(dir, 'jobs.config.json');
    fs.writeFileSync(config, JSON.stringify({ lake: './lake', jobs: [{ name: 'superchargers', projection: 'superchargers', batchSize: 200 }] }));
    const ingest = (seed: number, count: number) => eventlakeJson(['--config', config, 'ingest', writeNdjson(path.join(dir, `c${seed}.ndjson`), [...sampleNdjson({ count, seed, start: `202${seed}-01-01T00:00:00Z` })])]);
    await ingest(1, 3000);
    await eventlake(['--config', config, 'run']); // many batches, compacted into one larger file
    await ingest(2, 600);
    await eventlake(['--config', config, 'run']); // a few small files beside it
    const { jobs } = await loadConfig({ config });
    const tableDir = new LakeLayout(path.join(dir, 'lake')).tableDir('superchargers');
    const before = await loadSnapshot(tableDir);
    const sizes = [...before.files.values()].map((f) => numRecords(f)!).sort((a, b) => b - a);
    expect(sizes.length).toBeGreaterThan(2);
    const large = [...before.files.values()].find((f) => numRecords(f) === sizes[0])!;
    const view = await eventlakeJson(['--config', config, 'query', 'SELECT * FROM superchargers ORDER BY ALL']);

    const duck = await Duck.open();
    try {
      const after = await compact(duck, tableDir, jobs[0], before, sizes[0]); // "small" = below the largest file
      expect(after.files.has(large.path)).toBe(true); // the large file is untouched
      expect(after.files.size).toBe(2);
    } finally {
      duck.close();
    }
    await eventlake(['--config', config, 'run']); // rebuilds the views over the compacted snapshot
    expect(await eventlakeJson(['--config', config, 'query', 'SELECT * FROM superchargers ORDER BY ALL'])).toEqual(view);
  });

  it('never merges the base file with newer files: it stays the fold of a prefix of the table', async () => {
    const dir = tempDir();
    const config = path.join(dir, 'jobs.config.json');
    fs.writeFileSync(config, JSON.stringify({ lake: './lake', jobs: [{ name: 'history', projection: 'supercharger_status_history', batchSize: 100 }] }));
    const lines = [...sampleNdjson({ count: 3600, seed: 3 })];
    await eventlakeJson(['--config', config, 'ingest', writeNdjson(path.join(dir, 'a.ndjson'), lines.slice(0, 3000))]);
    await eventlake(['--config', config, 'run']); // 30 batches: folded into a base
    await eventlakeJson(['--config', config, 'ingest', writeNdjson(path.join(dir, 'b.ndjson'), lines.slice(3000))]);
    await eventlake(['--config', config, 'run']); // a few files beside the base
    const { jobs } = await loadConfig({ config });
    const tableDir = new LakeLayout(path.join(dir, 'lake')).tableDir('history');
    const before = await loadSnapshot(tableDir);
    const base = [...before.files.values()].find(isBaseFile)!;
    expect(base).toBeDefined();
    const view = await eventlakeJson(['--config', config, 'query', 'SELECT * FROM supercharger_status_history ORDER BY ALL']);

    const duck = await Duck.open();
    try {
      const after = await compact(duck, tableDir, jobs[0], before, Number.MAX_SAFE_INTEGER); // every file counts as small
      expect(after.files.get(base.path)).toEqual(base);
      expect(after.files.size).toBe(2);
    } finally {
      duck.close();
    }
    await eventlake(['--config', config, 'run']);
    expect(await eventlakeJson(['--config', config, 'query', 'SELECT * FROM supercharger_status_history ORDER BY ALL'])).toEqual(view);
  });
});
