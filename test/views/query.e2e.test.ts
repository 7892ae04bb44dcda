import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { eventlake, eventlakeJson, tempDir, writeNdjson } from '../support/cli.js';

describe('eventlake query', () => {
  const dir = tempDir();
  const lake = path.join(dir, 'lake');
  beforeAll(async () => {
    await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, 'c.ndjson'), [...sampleNdjson({ count: 300, seed: 8 })])]);
    await eventlakeJson(['--lake', lake, 'run']);
  });

  it.each([
    ['CREATE TABLE t AS SELECT 1', /CREATE statement/],
    ["COPY (SELECT 1) TO 'x.csv'", /COPY statement|Permission Error/],
    ["COPY (SELECT 1) TO '" + path.join(lake, 'tables', 'x.csv') + "'", /COPY statement|Permission Error/],
    ["ATTACH 'other.duckdb'", /ATTACH statement/],
    ['INSTALL httpfs', /EXTENSION|LOAD|statement/],
    ['SET enable_external_access = true', /SET statement/],
    ['DROP VIEW superchargers', /DROP statement/],
    ["SELECT * FROM read_csv('/etc/passwd')", /Permission Error/],
    ["SELECT * FROM read_parquet('/etc/*.parquet')", /Permission Error/],
    ['SELECT 1; SELECT 2', /exactly one SQL statement/],
  ])('refuses %s', async (sql, message) => {
    const result = await eventlake(['--lake', lake, 'query', sql]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
  });

  it('cannot write anything anywhere, whatever wraps the statement: data files, commits and files elsewhere stay as they were', async () => {
    const tableDir = path.join(lake, 'tables', 'superchargers');
    const dataFile = path.join(tableDir, fs.readdirSync(tableDir).find((f) => f.endsWith('.parquet'))!);
    const forged = path.join(tableDir, '_delta_log', '00000000000000000099.json');
    const outside = path.join(dir, 'outside.parquet');
    const before = fs.readFileSync(dataFile);
    const payload = "SELECT 'PWNED' AS supercharger_serial";
    for (const sql of [
      `EXPLAIN ANALYZE COPY (${payload}) TO '${dataFile}' (FORMAT parquet)`,
      `EXPLAIN COPY (${payload}) TO '${dataFile}' (FORMAT parquet)`,
      `EXPLAIN ANALYZE COPY (SELECT '{}' AS j) TO '${forged}' (FORMAT csv, HEADER false)`,
      `EXPLAIN ANALYZE COPY (SELECT 1) TO '${outside}' (FORMAT parquet)`,
      `EXPLAIN ANALYZE CREATE TABLE pwned AS SELECT 1`,
      `EXPLAIN ANALYZE INSERT INTO read_model_data.superchargers (supercharger_serial) VALUES ('PWNED')`,
    ]) {
      const result = await eventlake(['--lake', lake, 'query', sql]);
      expect(result.code, sql).toBe(1);
    }
    expect(fs.readFileSync(dataFile).equals(before)).toBe(true);
    expect(fs.existsSync(forged)).toBe(false);
    expect(fs.existsSync(outside)).toBe(false);
    const pwned = await eventlakeJson<{ n: number }[]>(['--lake', lake, 'query', "SELECT count(*) AS n FROM superchargers WHERE supercharger_serial = 'PWNED'"]);
    expect(pwned[0].n).toBe(0);
  });

  it('a lake copied elsewhere answers without a run and never reads the original', async () => {
    const copy = path.join(tempDir(), 'copied-lake');
    fs.cpSync(lake, copy, { recursive: true });
    const sql = 'SELECT count(*) AS n FROM vw_order_summary';
    const expected = await eventlakeJson<{ n: number }[]>(['--lake', lake, 'query', sql]);
    // With the original gone, a copy that read the original's files would fail or answer nothing.
    const moved = `${lake}-moved-away`;
    fs.renameSync(lake, moved);
    try {
      expect(await eventlakeJson(['--lake', copy, 'query', sql])).toEqual(expected);
    } finally {
      fs.renameSync(moved, lake);
    }
  });

  it('prints JSON rows, CSV and an aligned table', async () => {
    const sql = "SELECT status, count(*) AS n FROM superchargers GROUP BY status ORDER BY status";
    const json = await eventlakeJson<{ status: string; n: number }[]>(['--lake', lake, 'query', sql]);
    expect(json.length).toBeGreaterThan(0);
    expect(typeof json[0].n).toBe('number');
    const csv = (await eventlake(['--lake', lake, 'query', sql, '--csv'])).stdout.trim().split('\n');
    expect(csv[0]).toBe('status,n');
    expect(csv.slice(1)).toEqual(json.map((r) => `${r.status},${r.n}`));
    const table = (await eventlake(['--lake', lake, 'query', sql])).stdout;
    expect(table).toMatch(/^status\s+n\n-+\s+-+\n/);
    expect(table).toContain(`(${json.length} rows)`);
  });

  it('the views database opens in a plain DuckDB client and reads the lake', async () => {
    const { Duck } = await import('../../lake/duckdb.js');
    const duck = await Duck.open(path.join(lake, 'views.duckdb'), { access_mode: 'READ_ONLY' });
    try {
      const n = await duck.scalar<string>('SELECT count(*) FROM vw_order_summary');
      expect(Number(n)).toBeGreaterThan(0);
    } finally {
      duck.close();
    }
  });

  it('status shows each job caught up, then behind after new commands', async () => {
    type S = { job: string; lagEvents: number; lagSeconds: number; checkpoint: Record<string, number> };
    const before = await eventlakeJson<S[]>(['--lake', lake, 'status']);
    expect(before.every((s) => s.lagEvents === 0)).toBe(true);
    const later = [...sampleNdjson({ count: 40, seed: 99, start: '2027-01-01T00:00:00Z' })];
    await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, 'later.ndjson'), later)]);
    const after = await eventlakeJson<S[]>(['--lake', lake, 'status']);
    expect(after.find((s) => s.job === 'command_status')!.lagEvents).toBe(40);
    expect(after.find((s) => s.job === 'superchargers')!.lagSeconds).toBeGreaterThan(0);
  });
});
