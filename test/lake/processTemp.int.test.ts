import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { processTempPath, removeOrphanedTempPaths } from '../../lake/processTemp.js';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { eventlake, tempDir, writeNdjson } from '../support/cli.js';

/** A pid that ran and is gone: a child that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

const UUID = '0f34685f-cf00-4b7d-9c23-2ad42560b676';

/** A spill folder with a block in it, as a DuckDB instance leaves it. */
function spillFolder(tmp: string, owner: string): string {
  const name = `eventlake-duckdb-${owner}-${UUID}`;
  fs.mkdirSync(path.join(tmp, name));
  fs.writeFileSync(path.join(tmp, name, 'duckdb_temp_block-1.block'), 'spilled');
  return name;
}

function file(tmp: string, name: string): string {
  fs.writeFileSync(path.join(tmp, name), 'staged');
  return name;
}

describe('a pass\'s temp files and folders', () => {
  it('removes those of this host\'s processes that are gone, and keeps a running process\'s, its own and another host\'s', () => {
    const tmp = tempDir();
    const host = os.hostname();
    const dead = deadPid();
    const gone = [
      spillFolder(tmp, `${dead}@${host}`),
      file(tmp, `eventlake-rows-${dead}@${host}-${UUID}.ndjson`),
      // A data file awaiting its upload: its own name holds another uuid.
      file(tmp, `eventlake-upload-${dead}@${host}-${UUID}.part-00000-5a6b7c8d-0000-4000-8000-000000000000-c000.snappy.parquet`),
      file(tmp, `eventlake-checkpoint-${dead}@${host}-${UUID}.parquet.ndjson`),
    ];
    const kept = [
      spillFolder(tmp, `${process.ppid}@${host}`),
      spillFolder(tmp, `${process.pid}@${host}`),
      file(tmp, `eventlake-rows-${process.pid}@${host}-${UUID}.ndjson`),
      spillFolder(tmp, `${dead}@another-${host}`),
      file(tmp, `eventlake-rows-${dead}@another-${host}-${UUID}.ndjson`),
      path.basename(fs.mkdtempSync(path.join(tmp, 'eventlake-test-'))),
      file(tmp, `eventlake-notes-${dead}@${host}-${UUID}.txt`),
    ];

    expect(removeOrphanedTempPaths(tmp).sort()).toEqual(gone.sort());
    expect(fs.readdirSync(tmp).sort()).toEqual(kept.sort());
  });

  it('eventlake run removes what a killed process left, and leaves nothing of its own', async () => {
    const dir = tempDir();
    const tmp = fs.mkdtempSync(path.join(dir, 'tmp-'));
    const dead = `${deadPid()}@${os.hostname()}`;
    spillFolder(tmp, dead);
    file(tmp, `eventlake-rows-${dead}-${UUID}.ndjson`);
    const config = path.join(dir, 'jobs.config.json');
    fs.writeFileSync(config, JSON.stringify({ lake: './lake', jobs: [{ name: 'superchargers', projection: 'superchargers' }] }));
    const env = { TMPDIR: tmp };
    expect((await eventlake(['--config', config, 'ingest', writeNdjson(path.join(dir, 'c.ndjson'), [...sampleNdjson({ count: 200, seed: 5 })])], { env })).code).toBe(0);
    expect((await eventlake(['--config', config, 'run'], { env })).code).toBe(0);
    expect(fs.readdirSync(tmp).filter((name) => name.startsWith('eventlake-'))).toEqual([]);
  });

  it('names a new path after this process and host, in the temp folder', () => {
    const staged = processTempPath('rows', 'ndjson');
    expect(path.dirname(staged)).toBe(os.tmpdir());
    expect(path.basename(staged)).toMatch(new RegExp(`^eventlake-rows-${process.pid}@.+\\.ndjson$`));
  });
});
