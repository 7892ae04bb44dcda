import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, eventlake, tempDir, writeNdjson } from '../support/cli.js';

/**
 * A record whose row no table can store (a leap second, a lone surrogate) or that makes a SQL
 * projection fail must not stop a job for good: per the job's policy it becomes a dead letter and
 * the rest of its batch is applied (a SQL batch is halved to find it), in runs and rebuilds alike.
 */
const register = (serial: string, name: string, minute: number) => ({
  command_id: `reg-${serial}`,
  command_name: 'RegisterSupercharger',
  received: new Date(Date.parse('2026-02-01T00:00:00Z') + minute * 60_000).toISOString(),
  command: { supercharger_serial: serial, location_name: name, supercharger_type: 'V3', lat: 1, long: 2 },
});

const JOBS = ['fragile_times', 'fragile_log', 'fragile_counts'];

function lake(onError: 'halt' | 'skip') {
  const dir = tempDir();
  const config = path.join(dir, 'jobs.config.json');
  fs.writeFileSync(config, JSON.stringify({
    lake: './lake',
    domains: ['superchargers', path.join(REPO, 'test/fixtures/fragileDomain.mjs')],
    jobs: JOBS.map((name) => ({ name, projection: name, onError })),
  }));
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
    for (const command of [['run'], ...JOBS.map((job) => ['rebuild', job])]) {
      const run = await cli(...command, '--json');
      expect(run.code, `${command.join(' ')}: ${run.stderr}`).toBe(0);
      expect(serials((await cli('query', 'SELECT supercharger_serial FROM read_models.fragile_times', '--json')).json())).toEqual(['A', 'D', 'E']);
      expect(serials((await cli('query', 'SELECT supercharger_serial FROM read_models.fragile_log', '--json')).json())).toEqual(['A', 'C', 'D', 'E']);
      expect(serials((await cli('query', 'SELECT supercharger_serial FROM read_models.fragile_counts WHERE n = 1', '--json')).json())).toEqual(['A', 'B', 'C', 'E']);
    }
    const letters = (await cli('deadletters', '--json')).json() as { job: string; eventType: string; error: string; action: string }[];
    const byJob = (job: string) => letters.filter((l) => l.job === job);
    expect(byJob('fragile_times').map((l) => l.error).join('\n')).toMatch(/leap seconds[\s\S]*surrogate|surrogate[\s\S]*leap seconds/);
    expect(byJob('fragile_log')[0]).toMatchObject({ eventType: 'SuperchargerRegistered', action: 'skipped' });
    expect(byJob('fragile_counts')[0].error).toMatch(/Could not convert string 'x'/);
    const status = (await cli('status', '--json')).json() as { job: string; lagEvents: number }[];
    for (const job of JOBS) expect(status.find((s) => s.job === job)?.lagEvents, job).toBe(0);
  });

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
