import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { REPO, eventlake, eventlakeJson, tempDir, writeNdjson } from '../support/cli.js';
import { loggedCommandIds } from '../support/lakeLog.js';

const MODELS = [
  'SELECT * FROM superchargers ORDER BY ALL',
  'SELECT * FROM supercharger_status_history ORDER BY ALL',
  'SELECT * FROM vw_order_summary ORDER BY ALL',
  'SELECT * FROM daily_status_changes ORDER BY ALL',
  'SELECT command_id, status, code FROM command_status ORDER BY ALL',
];

function ingestKilledAfter(lake: string, file: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(REPO, 'bin/eventlake.js'), '--lake', lake, 'ingest', file], { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

describe('file ingest killed at random moments', () => {
  it('then replayed: every command exactly once, read models equal an uninterrupted run', async () => {
    const dir = tempDir();
    const lines = [...sampleNdjson({ count: 20000, seed: 51, invalidShare: 0.03 })];
    const file = writeNdjson(path.join(dir, 'c.ndjson'), [...lines, ...lines.slice(0, 100)]);
    const [crashed, clean] = [path.join(dir, 'crashed'), path.join(dir, 'clean')];
    let seed = 11;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let i = 0; i < 6; i++) await ingestKilledAfter(crashed, file, 250 + Math.floor(random() * 900));
    const finish = await eventlakeJson<{ accepted: number; duplicates: number }>(['--lake', crashed, 'ingest', file]);
    await eventlakeJson(['--lake', clean, 'ingest', file]);
    const ids = loggedCommandIds(crashed);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(loggedCommandIds(clean).sort());
    expect(finish.duplicates).toBeGreaterThanOrEqual(100);
    for (const lake of [crashed, clean]) expect((await eventlake(['--lake', lake, 'run'])).code).toBe(0);
    for (const sql of MODELS) expect(await eventlakeJson(['--lake', crashed, 'query', sql]), sql).toEqual(await eventlakeJson(['--lake', clean, 'query', sql]));
  });
});
