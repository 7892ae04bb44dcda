import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { Duck } from '../../lake/duckdb.js';
import { REPO, eventlake, eventlakeJson, tempDir, writeNdjson } from '../support/cli.js';

function cliProcess(args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(REPO, 'bin/eventlake.js'), ...args], { stdio: 'ignore' });
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

/** What a reader sees of three read models, as one comparable string. */
async function observe(viewsFile: string): Promise<string> {
  const duck = await Duck.open(viewsFile, { access_mode: 'READ_ONLY' });
  try {
    const rows = await duck.rows(
      `SELECT (SELECT count(*) || ':' || sum(version) FROM superchargers) AS s,
              (SELECT count(*) || ':' || sum(total_amount)::DECIMAL(18,2) FROM vw_order_summary) AS o,
              (SELECT count(*) FROM supercharger_status_history) AS h`,
    );
    return JSON.stringify(rows[0]);
  } finally {
    duck.close();
  }
}

describe('rebuild without downtime', () => {
  it('a reader polling the views during rebuilds and ingest never sees an error or a partial model', async () => {
    const dir = tempDir();
    const config = path.join(dir, 'jobs.config.json');
    const jobs = JSON.parse(fs.readFileSync(path.join(REPO, 'jobs.config.json'), 'utf8')).jobs.map((j: object) => ({ ...j, batchSize: 200 }));
    fs.writeFileSync(config, JSON.stringify({ lake: './lake', jobs }));
    await eventlakeJson(['--config', config, 'ingest', writeNdjson(path.join(dir, 'a.ndjson'), [...sampleNdjson({ count: 3000, seed: 41 })])]);
    expect((await eventlake(['--config', config, 'run'])).code).toBe(0);
    const viewsFile = path.join(dir, 'lake', 'views.duckdb');
    const before = await observe(viewsFile);

    const later = writeNdjson(path.join(dir, 'b.ndjson'), [...sampleNdjson({ count: 500, seed: 42, start: '2027-01-01T00:00:00Z' })]);
    const work = (async () => {
      const codes = await Promise.all([
        cliProcess(['--config', config, 'rebuild', 'superchargers']),
        cliProcess(['--config', config, 'ingest', later]), // ingest goes on meanwhile
      ]);
      codes.push(await cliProcess(['--config', config, 'rebuild', 'orders']));
      codes.push(await cliProcess(['--config', config, 'rebuild', 'supercharger_status_history']));
      return codes;
    })();
    const seen = new Set<string>();
    let polls = 0;
    let finished = false;
    work.finally(() => (finished = true));
    while (!finished) {
      seen.add(await observe(viewsFile)); // any error here fails the test
      polls += 1;
    }
    expect(await work).toEqual([0, 0, 0, 0]);
    const after = await observe(viewsFile);
    seen.add(after);
    expect(polls).toBeGreaterThan(3);
    // Each read model is either wholly the old one or wholly a rebuilt one: the rebuilds may or
    // may not include the concurrently ingested commands, but never part of a model.
    const full = await eventlakeJson<{ n: number }[]>(['--config', config, 'query', 'SELECT count(*) AS n FROM superchargers']);
    for (const observed of seen) {
      const { s, h } = JSON.parse(observed) as { s: string; h: string };
      expect([JSON.parse(before).s, JSON.parse(after).s]).toContain(s);
      expect([JSON.parse(before).h, JSON.parse(after).h]).toContain(h);
    }
    expect(Number(JSON.parse(after).s.split(':')[0])).toBe(full[0].n);
  });
});
