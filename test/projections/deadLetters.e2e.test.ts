import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, eventlake, writeNdjson } from '../support/cli.js';
import { fragileLake } from '../support/fragileLake.js';
import { register } from '../support/commands.js';

/** A lake whose `fragile` job fails on a poisoned event, with the given error policy. */
function lakeWithFragileJob(onError: 'halt' | 'skip') {
  const { dir, config } = fragileLake([{ name: 'fragile', projection: 'fragile_names', onError }, { name: 'superchargers', projection: 'superchargers' }]);
  const cli = (args: string[], env: Record<string, string> = {}) => eventlake(['--config', config, ...args], { env });
  return { dir, config, cli };
}

describe('dead letters and error policy', () => {
  it('skip: the poison event becomes a dead letter and the job goes on', async () => {
    const { dir, cli } = lakeWithFragileJob('skip');
    writeNdjson(path.join(dir, 'c.ndjson'), [register('A', 'Oslo', 1), register('B', 'POISON', 2), register('C', 'Bergen', 3)]);
    expect((await cli(['ingest', path.join(dir, 'c.ndjson')])).code).toBe(0);
    const run = await cli(['run', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).find((r: { job: string }) => r.job === 'fragile').deadLetters).toBe(1);
    const letters = JSON.parse((await cli(['deadletters', 'fragile', '--json'])).stdout);
    expect(letters).toMatchObject([{ job: 'fragile', eventType: 'SuperchargerRegistered', error: 'poisoned location', action: 'skipped' }]);
    const names = JSON.parse((await cli(['query', 'SELECT supercharger_serial FROM read_models.fragile_names ORDER BY 1', '--json'])).stdout);
    expect(names.map((r: { supercharger_serial: string }) => r.supercharger_serial)).toEqual(['A', 'C']);
    const status = JSON.parse((await cli(['status', '--json'])).stdout);
    expect(status.find((s: { job: string }) => s.job === 'fragile')).toMatchObject({ deadLetters: 1, lagEvents: 0 });
    // After a fix, replaying the dead letters rebuilds the model in order and closes them.
    const replay = await cli(['replay-deadletters', 'fragile', '--json'], { EVENTLAKE_TEST_FIXED: '1' });
    expect(replay.code, replay.stderr).toBe(0);
    expect(JSON.parse((await cli(['deadletters', '--json'])).stdout)).toEqual([]);
    const all = JSON.parse((await cli(['query', 'SELECT count(*) AS n FROM read_models.fragile_names', '--json'])).stdout);
    expect(all[0].n).toBe(3);
  });

  it('halt: the job stops before the poison event and status shows the error', async () => {
    const { dir, cli } = lakeWithFragileJob('halt');
    writeNdjson(path.join(dir, 'c.ndjson'), [register('A', 'Oslo', 1), register('B', 'POISON', 2)]);
    await cli(['ingest', path.join(dir, 'c.ndjson')]);
    const run = await cli(['run', 'fragile']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/projection failed on record \d+ \(SuperchargerRegistered\): poisoned location/);
    const status = JSON.parse((await cli(['status', '--json'])).stdout).find((s: { job: string }) => s.job === 'fragile');
    expect(status.lastError).toMatch(/poisoned location/);
    expect(status.lagEvents).toBe(2); // the batch was not committed
    expect(JSON.parse((await cli(['deadletters', '--json'])).stdout)[0].action).toBe('halted');
  });

  it('a changed definition without a version bump is reported; a new version rebuilds', async () => {
    const { dir, config, cli } = lakeWithFragileJob('skip');
    writeNdjson(path.join(dir, 'c.ndjson'), [register('A', 'Oslo', 1)]);
    await cli(['ingest', path.join(dir, 'c.ndjson')]);
    await cli(['run']);
    const modified = path.join(dir, 'fragileModified.mjs');
    fs.writeFileSync(modified, fs.readFileSync(path.join(REPO, 'test/fixtures/fragileDomain.mjs'), 'utf8').replace("'poisoned location'", "'poisoned!'"));
    const cfg = JSON.parse(fs.readFileSync(config, 'utf8'));
    cfg.domains[1] = modified;
    fs.writeFileSync(config, JSON.stringify(cfg));
    const status = JSON.parse((await cli(['status', '--json'])).stdout).find((s: { job: string }) => s.job === 'fragile');
    expect(status.warning).toMatch(/changed without a version bump/);
    const bumped = await cli(['run', 'fragile', '--json'], { EVENTLAKE_TEST_VERSION: '2' });
    expect(JSON.parse(bumped.stdout)[0]).toMatchObject({ mode: 'rebuild', applied: 1 });
    const after = JSON.parse((await cli(['status', '--json'], { EVENTLAKE_TEST_VERSION: '2' })).stdout).find((s: { job: string }) => s.job === 'fragile');
    expect(after).toMatchObject({ warning: null, projectionVersion: 2, builtVersion: 2 });
  });
});
