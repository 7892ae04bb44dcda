import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventlake, REPO, tempDir, writeNdjson } from '../support/cli.js';
import { register } from '../support/commands.js';
import fs from 'node:fs';

/**
 * A state projection keyed by a column that is not text (test/fixtures/typedKeyDomain.mjs: a
 * BIGINT, a DATE): each run reads the rows of the keys it touches back from the table and must
 * evolve them, not start them anew. Before keys were brought to one text form, the BIGINT
 * model's row was read back as the number 1 and looked up as "1": every run counted from zero.
 */
describe('state keyed by a BIGINT or a DATE column', () => {
  it('runs over three ingests count every event, as a rebuild does', async () => {
    const dir = tempDir();
    const config = path.join(dir, 'jobs.config.json');
    const jobs = ['events_per_version', 'events_per_day'];
    fs.writeFileSync(config, JSON.stringify({ lake: './lake', domains: ['superchargers', path.join(REPO, 'test/fixtures/typedKeyDomain.mjs')], jobs: jobs.map((name) => ({ name, projection: name })) }));
    const cli = async (...args: string[]) => {
      const result = await eventlake(['--config', config, ...args]);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
      return result.stdout;
    };
    const counts = async () => JSON.parse(await cli('query', "SELECT 'version ' || version AS k, events FROM read_models.events_per_version UNION ALL SELECT 'day ' || day, events FROM read_models.events_per_day ORDER BY k", '--json'));
    for (const round of [1, 2, 3]) {
      const file = writeNdjson(path.join(dir, `c${round}.ndjson`), [register(`A${round}`, 'Oslo', round), register(`B${round}`, 'Bergen', round)]);
      await cli('ingest', file);
      await cli('run');
      expect(await counts(), `after run ${round}`).toEqual([
        { k: 'day 2026-02-01', events: 2 * round },
        { k: 'version 1', events: 2 * round },
      ]);
    }
    for (const job of jobs) await cli('rebuild', job);
    expect(await counts()).toEqual([
      { k: 'day 2026-02-01', events: 6 },
      { k: 'version 1', events: 6 },
    ]);
    fs.rmSync(dir, { recursive: true, force: true });
  }, 180_000);
});
