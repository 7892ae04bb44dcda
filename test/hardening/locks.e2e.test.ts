import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { LakeLayout, safeName } from '../../lake/layout.js';
import { eventlake, eventlakeJson, tempDir, writeNdjson } from '../support/cli.js';

function holdLock(lake: string, name: string, pid: number): void {
  const file = new LakeLayout(lake).lockFile(name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ pid, host: os.hostname(), purpose: name, since: '2026-01-01T00:00:00.000Z' }));
}

/** A pid that is certainly not running: past the kernel's pid_max. */
const DEAD_PID = 4_194_304 + 17;

describe('one writer, one run per job', () => {
  const dir = tempDir();
  const lake = path.join(dir, 'lake');
  const commands = writeNdjson(path.join(dir, 'c.ndjson'), [...sampleNdjson({ count: 50, seed: 61 })]);

  it('a second ingester is refused with a message naming the holder', async () => {
    holdLock(lake, 'log-writer', process.pid);
    const result = await eventlake(['--lake', lake, 'ingest', commands]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`locked by pid ${process.pid} on ${os.hostname()}`);
    fs.rmSync(new LakeLayout(lake).lockFile('log-writer'));
  });

  it('a stale ingest lock left by a crashed process is taken over, and logged', async () => {
    holdLock(lake, 'log-writer', DEAD_PID);
    const result = await eventlake(['--lake', lake, 'ingest', commands, '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('took over a stale lock');
    expect(JSON.parse(result.stdout).accepted).toBe(50);
  });

  it('a second run of the same job is refused; other jobs still run', async () => {
    holdLock(lake, 'job-superchargers', process.pid);
    const refused = await eventlake(['--lake', lake, 'run', 'superchargers']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/is locked by pid \d+ on .* since/);
    const others = await eventlakeJson<{ job: string }[]>(['--lake', lake, 'run', 'orders', 'customers']);
    expect(others.map((r) => r.job)).toEqual(['orders', 'customers']);
    holdLock(lake, 'job-superchargers', DEAD_PID);
    const takenOver = await eventlake(['--lake', lake, 'run', 'superchargers']);
    expect(takenOver.code, takenOver.stderr).toBe(0);
  });

  it('lake paths built from names cannot leave the lake root', () => {
    for (const name of ['../x', 'a/b', '..', '.hidden', 'a\\b', '', 'x'.repeat(200), '/etc']) expect(() => safeName(name, 'table')).toThrow(/invalid table name/);
    expect(() => new LakeLayout(dir).tableDir('../../etc')).toThrow();
    expect(safeName('superchargers@2', 'job')).toBe('superchargers@2');
  });
});
