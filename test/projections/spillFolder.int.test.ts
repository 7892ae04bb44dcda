import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { newSpillFolder, removeOrphanedSpillFolders } from '../../projections/spillFolder.js';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { eventlake, tempDir, writeNdjson } from '../support/cli.js';

/** A pid that ran and is gone: a child that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

describe('DuckDB spill folders', () => {
  it('removes the folders of this host\'s processes that are gone, and keeps a running process\'s, its own and another host\'s', () => {
    const tmp = tempDir();
    const uuid = '0f34685f-cf00-4b7d-9c23-2ad42560b676';
    const host = os.hostname();
    const folder = (owner: string) => {
      const dir = path.join(tmp, `eventlake-duckdb-${owner}-${uuid}`);
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'duckdb_temp_block-1.block'), 'spilled');
      return path.basename(dir);
    };
    const gone = folder(`${deadPid()}@${host}`);
    const parent = folder(`${process.ppid}@${host}`);
    const mine = folder(`${process.pid}@${host}`);
    const elsewhere = folder(`${deadPid()}@another-${host}`);
    const unrelated = path.basename(fs.mkdtempSync(path.join(tmp, 'eventlake-test-')));

    expect(removeOrphanedSpillFolders(tmp)).toEqual([gone]);
    expect(fs.readdirSync(tmp).sort()).toEqual([parent, mine, elsewhere, unrelated].sort());
  });

  it('eventlake run removes a killed process\'s spill folder, and leaves none of its own', async () => {
    const dir = tempDir();
    const tmp = fs.mkdtempSync(path.join(dir, 'tmp-'));
    const orphan = path.join(tmp, `eventlake-duckdb-${deadPid()}@${os.hostname()}-0f34685f-cf00-4b7d-9c23-2ad42560b676`);
    fs.mkdirSync(orphan);
    fs.writeFileSync(path.join(orphan, 'duckdb_temp_block-1.block'), 'spilled');
    const config = path.join(dir, 'jobs.config.json');
    fs.writeFileSync(config, JSON.stringify({ lake: './lake', jobs: [{ name: 'superchargers', projection: 'superchargers' }] }));
    const env = { TMPDIR: tmp };
    expect((await eventlake(['--config', config, 'ingest', writeNdjson(path.join(dir, 'c.ndjson'), [...sampleNdjson({ count: 200, seed: 5 })])], { env })).code).toBe(0);
    expect((await eventlake(['--config', config, 'run'], { env })).code).toBe(0);
    expect(fs.readdirSync(tmp).filter((name) => name.startsWith('eventlake-duckdb-'))).toEqual([]);
  });

  it('names a new folder after this process and host, in the temp folder', () => {
    const folder = newSpillFolder();
    expect(path.dirname(folder)).toBe(os.tmpdir());
    expect(path.basename(folder)).toMatch(new RegExp(`^eventlake-duckdb-${process.pid}@`));
  });
});
