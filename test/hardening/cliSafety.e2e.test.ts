import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { REPO, eventlake, eventlakeJson, tempDir, writeNdjson } from '../support/cli.js';

/** Runs the CLI with its stdout closed by the reader at once, as `| head -0` would. */
function withClosedStdout(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(REPO, 'bin', 'eventlake.js'), ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('the CLI is safe with a wrong path, a closed pipe and time travel', () => {
  it('every command but ingest and serve refuses a lake that does not exist, naming the path, and creates nothing', { timeout: 600_000 }, async () => {
    const typo = path.join(tempDir(), 'typo');
    for (const args of [['run'], ['status'], ['query', 'SELECT 1'], ['rebuild', 'orders'], ['seal'], ['vacuum'], ['deadletters'], ['rollback', 'orders'], ['log', 'repair'], ['table', 'orders']]) {
      const result = await eventlake(['--lake', typo, ...args]);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr, args.join(' ')).toContain(`no lake at ${typo} (${path.join(typo, 'log', 'meta.json')} does not exist)`);
      expect(fs.existsSync(typo), args.join(' ')).toBe(false);
    }
    const file = writeNdjson(path.join(path.dirname(typo), 'c.ndjson'), [...sampleNdjson({ count: 20, seed: 131 })]);
    expect((await eventlakeJson<{ accepted: number }>(['--lake', typo, 'ingest', file])).accepted).toBe(20);
    expect((await eventlake(['--lake', typo, 'status'])).code).toBe(0);
  });

  it('a reader that closes the pipe early (| head) neither crashes the command nor leaves its lock', { timeout: 600_000 }, async () => {
    const dir = tempDir();
    const lake = path.join(dir, 'lake');
    const file = writeNdjson(path.join(dir, 'c.ndjson'), [...sampleNdjson({ count: 300, seed: 132, invalidShare: 0.3 })]);
    const ingest = await withClosedStdout(['--lake', lake, 'ingest', file]);
    expect(ingest.stderr).not.toMatch(/EPIPE|Error/);
    expect(ingest.code).toBe(0);
    expect(fs.readdirSync(path.join(lake, 'locks'))).toEqual([]);
    expect(await eventlakeJson(['--lake', lake, 'ingest', file])).toMatchObject({ accepted: 0, rejected: 0, duplicates: 300 });
    await eventlakeJson(['--lake', lake, 'run', 'orders']);
    const query = await withClosedStdout(['--lake', lake, 'query', 'SELECT * FROM range(100000)']);
    expect(query.stderr).not.toMatch(/EPIPE|Error/);
    expect(query.code).toBe(0);
  });

  it('--table-version job=N keeps the SQL after it', { timeout: 600_000 }, async () => {
    const dir = tempDir();
    const lake = path.join(dir, 'lake');
    await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, 'a.ndjson'), [...sampleNdjson({ count: 200, seed: 133 })])]);
    await eventlakeJson(['--lake', lake, 'run', 'orders', 'customers']);
    await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, 'b.ndjson'), [...sampleNdjson({ count: 200, seed: 134 })])]);
    await eventlakeJson(['--lake', lake, 'run', 'orders', 'customers']);
    const count = async (args: string[]) => (await eventlakeJson<{ n: number }[]>(['--lake', lake, 'query', ...args]))[0].n;
    const sql = 'SELECT count(*)::INTEGER AS n FROM vw_order_summary';
    const [now, then] = [await count([sql]), await count(['--table-version', 'orders=0', sql])];
    expect(then).toBeGreaterThan(0);
    expect(then).toBeLessThan(now);
    expect(await count(['--table-version', 'orders=0', '--table-version', 'customers=0', sql])).toBe(then);
  });

  it('a seal killed with SIGKILL leaves no file in the system temp folder, and the next seal clears its own', { timeout: 600_000 }, async () => {
    const dir = tempDir();
    const lake = path.join(dir, 'lake');
    await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, 'a.ndjson'), [...sampleNdjson({ count: 300, seed: 135 })])]);
    // Its own system temp folder, so no other process's files are counted.
    const systemTemp = fs.mkdtempSync(path.join(dir, 'tmp-'));
    const killed = await eventlake(['--lake', lake, 'seal'], { env: { EVENTLAKE_FAILPOINTS: 'seal.beforePublish', TMPDIR: systemTemp } });
    expect(killed.code).toBe(128 + 9);
    expect(fs.readdirSync(systemTemp)).toEqual([]);
    const work = path.join(lake, 'tmp', 'seal');
    expect(fs.readdirSync(work).length).toBeGreaterThan(0); // what the killed seal left, in the lake's own state
    const sealed = await eventlakeJson<{ sealed: Record<string, number> }>(['--lake', lake, 'seal']);
    expect(Object.values(sealed.sealed).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(fs.existsSync(work)).toBe(false);
  });
});
