import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { eventlake, eventlakeJson, tempDir, writeNdjson } from '../support/cli.js';
import { register } from '../support/commands.js';

describe('Delta tables: compaction, time travel, rollback, vacuum', () => {
  it('many small batches are compacted and checkpointed without changing the read model', async () => {
    const dir = tempDir();
    const config = path.join(dir, 'jobs.config.json');
    fs.writeFileSync(config, JSON.stringify({ lake: './lake', jobs: [{ name: 'superchargers', projection: 'superchargers', batchSize: 40 }] }));
    // A first run builds the table in one commit; the second's 40-record batches each MERGE.
    const lines = [...sampleNdjson({ count: 2000, seed: 21 })];
    for (const [i, part] of [lines.slice(0, 40), lines.slice(40)].entries()) {
      await eventlake(['--config', config, 'ingest', writeNdjson(path.join(dir, `c${i}.ndjson`), part)]);
      const run = await eventlake(['--config', config, 'run']);
      expect(run.code, run.stderr).toBe(0);
    }
    const table = await eventlakeJson<{ version: number; files: string[]; rows: number; schema: { name: string; type: string }[] }>(['--config', config, 'table', 'superchargers']);
    expect(table.files.length).toBe(1);
    expect(table.schema.map((f) => `${f.name}:${f.type}`)).toContain('registered_at:timestamp');
    const log = fs.readdirSync(path.join(dir, 'lake/tables/superchargers/_delta_log'));
    expect(log.some((f) => f.endsWith('.checkpoint.parquet'))).toBe(true);
    expect(log).toContain('_last_checkpoint');
    const [compacted] = await eventlakeJson<{ n: number }[]>(['--config', config, 'query', 'SELECT count(*) AS n FROM superchargers']);
    expect(table.rows).toBe(compacted.n); // one row per key in the bare files after compaction
    await eventlake(['--config', config, 'rebuild', 'superchargers']);
    expect(await eventlakeJson(['--config', config, 'query', 'SELECT * FROM superchargers ORDER BY 1'])).toEqual(
      await eventlakeJson(['--config', config, 'query', 'SELECT * FROM superchargers ORDER BY 1', '--table-version', `superchargers=${table.version}`]),
    );
  });

  it('time travel by version and time, rollback of a rebuild, and vacuum', async () => {
    const dir = tempDir();
    const lake = path.join(dir, 'lake');
    const cli = (...args: string[]) => eventlakeJson<any>(['--lake', lake, ...args]);
    // B first, then A: a key below the first file's range joins that file, so the second run's
    // MERGE rewrites the first run's file (a key past every range would get a file of its own).
    await cli('ingest', writeNdjson(path.join(dir, 'a.ndjson'), [register('B', 'Oslo', 1)]));
    await cli('run', 'superchargers');
    const afterFirst = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    await cli('ingest', writeNdjson(path.join(dir, 'b.ndjson'), [register('A', 'Bergen', 2)]));
    await cli('run', 'superchargers');
    const count = (extra: string[] = []) => cli('query', 'SELECT count(*) AS n FROM superchargers', ...extra).then((r: { n: number }[]) => r[0].n);
    expect(await count()).toBe(2);
    expect(await count(['--table-version', 'superchargers=0'])).toBe(1);
    expect(await count(['--as-of', afterFirst])).toBe(1);
    expect(await count(['--as-of', '2000-01-01T00:00:00Z'])).toBe(0);
    const rebuilt = await cli('rebuild', 'superchargers');
    expect(rebuilt[0].tableVersion).toBe(2);
    const rolledBack = await cli('rollback', 'superchargers');
    expect(rolledBack).toMatchObject({ restored: 1, tableVersion: 3 });
    expect(await count()).toBe(2);
    const rollbackAgain = await eventlake(['--lake', lake, 'rollback', 'superchargers']);
    expect(rollbackAgain.stderr).toMatch(/no earlier version to roll back to/);
    // No longer in the snapshot: the rebuild's file, and the first run's file that the second
    // run's MERGE rewrote (copy-on-write); vacuum with zero retention deletes both.
    const vacuumed = await cli('vacuum', '--retention-hours', '0');
    expect(vacuumed.superchargers.length).toBe(2);
    expect(await count()).toBe(2);
    // Time travel to a version whose files are gone says so, as rollback does (not DuckDB's "No files found").
    const gone = await eventlake(['--lake', lake, 'query', 'SELECT count(*) FROM superchargers', '--table-version', 'superchargers=0']);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/version 0 of .*superchargers cannot be read: 1 of its files were vacuumed .*vacuumRetentionHours/);
    expect(gone.stderr).not.toMatch(/No files found|read_parquet/);
    await cli('ingest', writeNdjson(path.join(dir, 'c.ndjson'), [register('C', 'Tromso', 3)]));
    await cli('run', 'superchargers');
    expect(await count()).toBe(3);
  }, 240_000);
});
