import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { REPO, eventlake, eventlakeJson, tempDir, writeNdjson } from '../support/cli.js';

const FAILPOINTS = ['projection.afterDataFile', 'storage.beforeCreateLink', 'projection.afterCommit'];
const MODELS = [
  'SELECT * FROM superchargers ORDER BY ALL',
  'SELECT * FROM supercharger_status_history ORDER BY ALL',
  'SELECT * FROM daily_status_changes ORDER BY ALL',
  'SELECT * FROM vw_order_summary ORDER BY ALL',
  'SELECT * FROM order_status_history ORDER BY ALL',
  'SELECT command_id, status FROM command_status ORDER BY ALL',
];

/** Starts `eventlake run` and SIGKILLs it after `ms` (if still running). */
function runKilledAfter(configFile: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(REPO, 'bin/eventlake.js'), '--config', configFile, 'run'], { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function lakeWithConfig(dir: string, name: string): string {
  const config = path.join(dir, `${name}.json`);
  const jobs = JSON.parse(fs.readFileSync(path.join(REPO, 'jobs.config.json'), 'utf8')).jobs.map((j: object) => ({ ...j, batchSize: 150 }));
  fs.writeFileSync(config, JSON.stringify({ lake: `./${name}`, jobs }));
  return config;
}

describe('projection runs killed at random moments', () => {
  it('leave tables holding exactly the rows of an uninterrupted run', async () => {
    const dir = tempDir();
    const commands = writeNdjson(path.join(dir, 'c.ndjson'), [...sampleNdjson({ count: 2500, seed: 31, invalidShare: 0.02 })]);
    const [crashed, clean] = [lakeWithConfig(dir, 'crashed'), lakeWithConfig(dir, 'clean')];
    for (const config of [crashed, clean]) await eventlakeJson(['--config', config, 'ingest', commands]);
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let i = 0; i < 9; i++) {
      // First at each named point (between data file and commit, inside the commit, just after
      // it), then at random times, which land in Parquet writes, log reads and commits.
      if (i < FAILPOINTS.length) {
        const failpoint = FAILPOINTS[i];
        const result = await eventlake(['--config', crashed, 'run'], { env: { EVENTLAKE_FAILPOINTS: failpoint } });
        expect(result.code, `${failpoint}: ${result.stderr}`).not.toBe(0);
      } else {
        await runKilledAfter(crashed, 150 + Math.floor(random() * 1500));
      }
    }
    const finish = await eventlake(['--config', crashed, 'run']);
    expect(finish.code, finish.stderr).toBe(0);
    expect((await eventlake(['--config', clean, 'run'])).code).toBe(0);
    for (const sql of MODELS) {
      expect(await eventlakeJson(['--config', crashed, 'query', sql]), sql).toEqual(await eventlakeJson(['--config', clean, 'query', sql]));
    }
  });
});
