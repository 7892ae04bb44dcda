import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { eventlake, eventlakeJson, tempDir, writeNdjson } from '../support/cli.js';
import { openViewsInProcess } from '../support/queryInProcess.js';

/** Every read model's rows in a stable order, as one comparable value. */
const SNAPSHOT_SQL = [
  'SELECT * FROM superchargers ORDER BY ALL',
  'SELECT * FROM supercharger_status_history ORDER BY ALL',
  'SELECT * FROM daily_status_changes ORDER BY ALL',
  'SELECT * FROM vw_order_summary ORDER BY ALL',
  'SELECT * FROM order_status_history ORDER BY ALL',
  'SELECT command_id, status, code FROM command_status ORDER BY ALL',
];

/**
 * Read in this process (as `eventlake query --json` prints them): four comparisons of six
 * questions were 24 spawns. The CLI's query is spawned in the torn-line test below.
 */
async function readModels(lake: string): Promise<unknown[]> {
  const views = await openViewsInProcess({ lake });
  try {
    const models: unknown[] = [];
    for (const sql of SNAPSHOT_SQL) models.push(await views.query(sql));
    return models;
  } finally {
    views.close();
  }
}

function commandsFile(dir: string, count: number, seed: number): string {
  return writeNdjson(path.join(dir, `commands-${seed}.ndjson`), [...sampleNdjson({ count, seed, invalidShare: 0.03 })]);
}

describe('replays, crashes and incremental runs', () => {
  it('a replayed file changes nothing', async () => {
    const dir = tempDir();
    const lake = path.join(dir, 'lake');
    const file = commandsFile(dir, 800, 1);
    const first = await eventlakeJson<{ accepted: number; rejected: number }>(['--lake', lake, 'ingest', file]);
    const logBytes = () => fs.readdirSync(path.join(lake, 'log'), { recursive: true }).filter((f) => String(f).endsWith('.ndjson')).map((f) => fs.statSync(path.join(lake, 'log', String(f))).size);
    const before = logBytes();
    const again = await eventlakeJson<{ accepted: number; rejected: number; duplicates: number; events: number; errors: unknown[] }>(['--lake', lake, 'ingest', file]);
    expect(again).toEqual({ accepted: 0, rejected: 0, duplicates: first.accepted + first.rejected, events: 0, errors: [] });
    expect(logBytes()).toEqual(before);
  });

  it('a projection job killed between writing Parquet and committing loses and doubles nothing', async () => {
    const dir = tempDir();
    const [crashed, clean] = [path.join(dir, 'crashed'), path.join(dir, 'clean')];
    const file = commandsFile(dir, 1500, 2);
    for (const lake of [crashed, clean]) await eventlakeJson(['--lake', lake, 'ingest', file]);
    const killed = await eventlake(['--lake', crashed, 'run'], { env: { EVENTLAKE_FAILPOINTS: 'projection.afterDataFile' } });
    expect(killed.code).not.toBe(0);
    const orphan = fs.readdirSync(path.join(crashed, 'tables', 'superchargers')).filter((f) => f.endsWith('.parquet'));
    expect(orphan.length).toBe(1); // the data file was written, the commit was not
    const rerun = await eventlake(['--lake', crashed, 'run']);
    expect(rerun.code, rerun.stderr).toBe(0);
    await eventlake(['--lake', clean, 'run']);
    expect(await readModels(crashed)).toEqual(await readModels(clean));
  });

  it('an incremental run reads only what is new, and equals a rebuild', async () => {
    const dir = tempDir();
    const lake = path.join(dir, 'lake');
    await eventlakeJson(['--lake', lake, 'ingest', commandsFile(dir, 1000, 3)]);
    await eventlakeJson(['--lake', lake, 'run']);
    const second = await eventlakeJson<{ accepted: number; rejected: number }>(['--lake', lake, 'ingest', commandsFile(dir, 300, 4)]);
    const incremental = await eventlakeJson<{ job: string; applied: number }[]>(['--lake', lake, 'run']);
    const status = incremental.find((r) => r.job === 'command_status')!;
    expect(status.applied).toBe(second.accepted + second.rejected);
    expect(incremental.find((r) => r.job === 'superchargers')!.applied).toBe(second.accepted);
    const nothingNew = await eventlakeJson<{ applied: number; commits: number }[]>(['--lake', lake, 'run']);
    expect(nothingNew.every((r) => r.applied === 0 && r.commits === 0)).toBe(true);
    const afterIncremental = await readModels(lake);
    for (const job of ['superchargers', 'supercharger_status_history', 'daily_status_changes', 'orders', 'customers', 'order_status_history', 'command_status']) {
      await eventlakeJson(['--lake', lake, 'rebuild', job]);
    }
    expect(await readModels(lake)).toEqual(afterIncremental);
  });

  it('a torn last line in the log is trimmed and the next ingest goes on from the last commit', async () => {
    const dir = tempDir();
    const lake = path.join(dir, 'lake');
    await eventlakeJson(['--lake', lake, 'ingest', commandsFile(dir, 200, 5)]);
    const segment = path.join(lake, 'log', 'commands', '00000000000000000001.ndjson');
    fs.appendFileSync(segment, '{"sequence":999999,"commandId":"torn');
    const more = await eventlake(['--lake', lake, 'ingest', commandsFile(dir, 50, 6), '--json']);
    expect(more.code, more.stderr).toBe(0);
    expect(more.stderr).toContain('trimmed an uncommitted or torn tail');
    const lines = fs.readFileSync(segment, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.sequence)).toEqual(lines.map((_, i) => i + 1));
    await eventlakeJson(['--lake', lake, 'run']);
    const [row] = await eventlakeJson<{ n: number }[]>(['--lake', lake, 'query', 'SELECT count(*) AS n FROM command_status']);
    expect(row.n).toBe(lines.length);
  });

  it('commands can come from stdin', async () => {
    const lake = path.join(tempDir(), 'lake');
    const input = [...sampleNdjson({ count: 20, seed: 9 })].join('\n');
    const summary = await eventlakeJson<{ accepted: number }>(['--lake', lake, 'ingest', '-'], { input });
    expect(summary.accepted).toBe(20);
  });
});
