import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, eventlake, tempDir, writeNdjson } from '../support/cli.js';

const name = (id: string, station: string, minute: number) => ({
  command_id: `n-${id}-${minute}`,
  command_name: 'NameStation',
  received: new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString(),
  command: { id, name: station },
});

describe('event schema evolution', () => {
  it('a log written with an older event shape rebuilds under the new code through upcasters', async () => {
    const dir = tempDir();
    const config = path.join(dir, 'jobs.config.json');
    fs.writeFileSync(config, JSON.stringify({
      lake: './lake',
      domains: [path.join(REPO, 'test/fixtures/legacyDomain.mjs')],
      jobs: [{ name: 'station_names', projection: 'station_names' }, { name: 'short_names', projection: 'short_names' }],
    }));
    const cli = (args: string[], shape: string) => eventlake(['--config', config, ...args], { env: { EVENTLAKE_TEST_SHAPE: shape } });
    // Old code writes version-1 events...
    expect((await cli(['ingest', writeNdjson(path.join(dir, 'a.ndjson'), [name('a', 'Oslo Sentrum', 1), name('b', 'Bergen', 2)])], '1')).code).toBe(0);
    expect((await cli(['run'], '1')).code).toBe(0);
    // ...new code writes version 2, and must read both.
    const second = await cli(['ingest', writeNdjson(path.join(dir, 'b.ndjson'), [name('c', 'Trondheim', 3), name('a', 'Oslo Lufthavn', 4)]), '--json'], '2');
    expect(JSON.parse(second.stdout).accepted).toBe(2);
    const logDir = path.join(dir, 'lake/log');
    const partitions = fs.readdirSync(logDir).filter((d) => /^p\d+$/.test(d));
    const logged = partitions.flatMap((d) => fs.readdirSync(path.join(logDir, d)).map((f) => fs.readFileSync(path.join(logDir, d, f), 'utf8'))).join('');
    expect(logged).toContain('"schemaVersion":1');
    expect(logged).toContain('"schemaVersion":2');
    const run = await cli(['run', '--json'], '2'); // a new projection version: rebuilt from the old log
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).map((r: { mode: string }) => r.mode)).toEqual(['rebuild', 'rebuild']);
    const rows = JSON.parse((await cli(['query', 'SELECT id, display_name, short FROM read_models.station_names ORDER BY id', '--json'], '2')).stdout);
    expect(rows).toEqual([
      { id: 'a', display_name: 'Oslo Lufthavn', short: 'Osl' },
      { id: 'b', display_name: 'Bergen', short: 'Ber' },
      { id: 'c', display_name: 'Trondheim', short: 'Tro' },
    ]);
    const shorts = JSON.parse((await cli(['query', 'SELECT short, sum(n) AS n FROM read_models.short_names GROUP BY short ORDER BY short', '--json'], '2')).stdout);
    expect(shorts).toEqual([{ short: 'Ber', n: 1 }, { short: 'Osl', n: 2 }, { short: 'Tro', n: 1 }]);
  });
});
