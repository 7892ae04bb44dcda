import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventlake, writeNdjson } from '../support/cli.js';
import { fragileLake } from '../support/fragileLake.js';
import { register } from '../support/commands.js';

/**
 * A record whose row no table can store (a leap second, a lone surrogate) or that makes a SQL
 * projection fail must not stop a job for good: per the job's policy it becomes a dead letter and
 * the rest of its batch is applied (a SQL batch is halved to find it), in runs and rebuilds alike.
 */

const JOBS = ['fragile_times', 'fragile_log', 'fragile_counts'];

function lake(onError: 'halt' | 'skip') {
  const { dir, config } = fragileLake(JOBS.map((name) => ({ name, projection: name, onError })));
  writeNdjson(path.join(dir, 'c.ndjson'), [register('A', 'Oslo', 1), register('B', 'LEAPSECOND', 2), register('C', 'SURROGATE', 3), register('D', 'SQLPOISON', 4), register('E', 'Bergen', 5)]);
  const cli = async (...args: string[]) => {
    const result = await eventlake(['--config', config, ...args]);
    return { ...result, json: () => JSON.parse(result.stdout) };
  };
  return { dir, cli };
}

const serials = (rows: { supercharger_serial: string }[]) => rows.map((r) => r.supercharger_serial).sort();

describe('records no sink can store', () => {
  it('skip: each becomes a dead letter naming its record, the rest of the batch is applied, and a rebuild does the same', async () => {
    const { dir, cli } = lake('skip');
    expect((await cli('ingest', path.join(dir, 'c.ndjson'))).code).toBe(0);
    const models = `SELECT 'times' AS model, supercharger_serial FROM read_models.fragile_times
      UNION ALL SELECT 'log', supercharger_serial FROM read_models.fragile_log
      UNION ALL SELECT 'counts', supercharger_serial FROM read_models.fragile_counts WHERE n = 1`;
    for (const command of [['run'], ...JOBS.map((job) => ['rebuild', job])]) {
      const run = await cli(...command, '--json');
      expect(run.code, `${command.join(' ')}: ${run.stderr}`).toBe(0);
      const rows = (await cli('query', models, '--json')).json() as { model: string; supercharger_serial: string }[];
      const of = (model: string) => serials(rows.filter((r) => r.model === model));
      expect({ times: of('times'), log: of('log'), counts: of('counts') }, command.join(' ')).toEqual({ times: ['A', 'D', 'E'], log: ['A', 'C', 'D', 'E'], counts: ['A', 'B', 'C', 'E'] });
    }
    const letters = (await cli('deadletters', '--json')).json() as { job: string; eventType: string; error: string; action: string }[];
    const byJob = (job: string) => letters.filter((l) => l.job === job);
    expect(byJob('fragile_times').map((l) => l.error).join('\n')).toMatch(/leap seconds[\s\S]*surrogate|surrogate[\s\S]*leap seconds/);
    expect(byJob('fragile_log')[0]).toMatchObject({ eventType: 'SuperchargerRegistered', action: 'skipped' });
    expect(byJob('fragile_counts')[0].error).toMatch(/Could not convert string 'x'/);
    const status = (await cli('status', '--json')).json() as { job: string; lagEvents: number }[];
    for (const job of JOBS) expect(status.find((s) => s.job === job)?.lagEvents, job).toBe(0);
  }, 180_000);

  it('halt: the job stops before the record, naming it, with its checkpoint unmoved', async () => {
    const { dir, cli } = lake('halt');
    await cli('ingest', path.join(dir, 'c.ndjson'));
    const run = await cli('run', 'fragile_counts');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/projection failed on record \d+ \(SuperchargerRegistered\)/);
    const status = ((await cli('status', '--json')).json() as { job: string; lagEvents: number }[]).find((s) => s.job === 'fragile_counts');
    expect(status?.lagEvents).toBe(5);
  });
});
