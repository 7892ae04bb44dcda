import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DUCKDB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/lake/duckdb.js');

/**
 * Every connection reads timestamps in UTC, on a host in another zone too: a further connection
 * (a job's on the pass's shared instance, a query session on a locked-down views database) as
 * well as the first. Run in a child process whose TZ is New York.
 */
describe('DuckDB connections and the time zone', () => {
  it('a further connection, made after the configuration is locked, reads in UTC on a host in another zone', () => {
    const script = `
      const { Duck } = await import(${JSON.stringify(DUCKDB)});
      const duck = await Duck.open();
      await duck.run('SET lock_configuration = true');
      const session = await duck.connect();
      const shown = await session.scalar("SELECT TIMESTAMPTZ '2026-01-01 00:00:00+00'::VARCHAR");
      process.stdout.write(JSON.stringify({ zone: await session.scalar("SELECT current_setting('TimeZone')"), shown }));`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, TZ: 'America/New_York' }, encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual({ zone: 'UTC', shown: '2026-01-01 00:00:00+00' });
  });
});
