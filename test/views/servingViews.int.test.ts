import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { Duck } from '../../lake/duckdb.js';
import { LakeLayout } from '../../lake/layout.js';
import { loadConfig, type EventlakeConfig } from '../../projections/jobsConfig.js';
import { runQuery } from '../../views/query.js';
import { ServingReader } from '../../service/servingReader.js';
import { createServingCatalog, openServing } from '../../views/servingCatalog.js';
import { ServingDelta } from '../../views/servingDelta.js';
import { heldVersions } from '../../views/viewsDatabase.js';
import { eventlakeJson, REPO, tempDir, writeNdjson } from '../support/cli.js';

describe('serving views: a views database as base, a delta of rows held in memory over it', () => {
  const dir = tempDir();
  const lake = path.join(dir, 'lake');
  const catalog = path.join(dir, 'catalog.duckdb');
  let layout: LakeLayout;
  let config: EventlakeConfig;
  let versions: Map<string, number>;

  beforeAll(async () => {
    await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, 'c.ndjson'), [...sampleNdjson({ count: 200, seed: 3 })])]);
    await eventlakeJson(['--lake', lake, 'run']);
    config = await loadConfig({ lake, cwd: REPO });
    layout = new LakeLayout(config.lakeDir, config.stateDir ?? undefined);
    await createServingCatalog(catalog, layout.viewsDatabase, config);
    const duck = await Duck.open(layout.viewsDatabase, { access_mode: 'READ_ONLY' });
    versions = await heldVersions(duck);
    duck.close();
  }, 180_000);

  it('shows the base with the delta laid over it: replaced keys hidden, added rows shown', async () => {
    const delta = new ServingDelta(versions);
    const serving = await openServing({ catalog, base: layout.viewsDatabase }, () => delta);
    try {
      const before = await runQuery(serving, 'SELECT supercharger_serial, status FROM superchargers ORDER BY 1 LIMIT 1');
      const serial = before.rows[0].supercharger_serial as string;
      const count = Number((await runQuery(serving, 'SELECT count(*) AS n FROM superchargers')).rows[0].n);
      const version = versions.get('superchargers')!;
      const key = JSON.stringify({ supercharger_serial: serial });
      const row = (s: string, status: string) => JSON.stringify({ supercharger_serial: s, location_name: 'X', supercharger_type: 'V4', lat: 1, long: 2, status, registered_at: '2026-03-01T10:00:00Z', status_changed_at: '2026-03-01T11:00:00Z', version: 9 });
      delta.apply({ readModel: 'superchargers', fromVersion: version, toVersion: version + 1, replaced: [key], added: [{ row: row(serial, 'PATCHED'), key, mutable: true }, { row: row('NEW-1', 'notinuse'), key: JSON.stringify({ supercharger_serial: 'NEW-1' }), mutable: true }] });
      const after = await runQuery(serving, `SELECT supercharger_serial, status, status_changed_at FROM superchargers WHERE supercharger_serial IN ('${serial}', 'NEW-1') ORDER BY 1`);
      expect(after.rows.map((r) => [r.supercharger_serial, r.status])).toEqual([['NEW-1', 'notinuse'], [serial, 'PATCHED']].sort((a, b) => a[0].localeCompare(b[0])));
      expect(String(after.rows[0].status_changed_at)).toMatch(/^2026-03-01[ T]11:00:00/);
      expect(Number((await runQuery(serving, 'SELECT count(*) AS n FROM superchargers')).rows[0].n)).toBe(count + 1);
      const held = await runQuery(serving, "SELECT table_version FROM eventlake.read_models WHERE name = 'superchargers'");
      expect(Number(held.rows[0].table_version)).toBe(version + 1);
    } finally {
      serving.close();
    }
  });

  it('cannot write anything anywhere: the catalog and base are read-only, file access is off, the configuration locked', async () => {
    const reader = new ServingReader({}, () => undefined);
    reader.adopt({ base: { id: 1, catalog, base: layout.viewsDatabase }, versions: [...versions], delta: new ServingDelta(versions).state(), merged: false });
    const outside = path.join(dir, 'outside.parquet');
    const catalogBytes = fs.readFileSync(catalog);
    const baseBytes = fs.readFileSync(layout.viewsDatabase);
    for (const sql of [
      'CREATE TABLE t AS SELECT 1',
      `COPY (SELECT 1) TO '${outside}' (FORMAT parquet)`,
      `EXPLAIN ANALYZE COPY (SELECT 1) TO '${outside}' (FORMAT parquet)`,
      "EXPLAIN ANALYZE INSERT INTO base.read_model_data.superchargers (supercharger_serial) VALUES ('PWNED')",
      "EXPLAIN ANALYZE INSERT INTO read_model_data.superchargers (supercharger_serial) VALUES ('PWNED')",
      'EXPLAIN ANALYZE CREATE TABLE pwned AS SELECT 1',
      `ATTACH '${path.join(dir, 'other.duckdb')}' AS other`,
      "SELECT * FROM read_csv('/etc/passwd')",
      'SET enable_external_access = true',
      "SELECT * FROM eventlake_delta_rows('superchargers'), read_text('/etc/hostname')",
    ]) {
      await expect(reader.query(sql, 10, 60_000), sql).rejects.toThrow();
    }
    expect(fs.existsSync(outside)).toBe(false);
    expect(fs.existsSync(path.join(dir, 'other.duckdb'))).toBe(false);
    expect(fs.readFileSync(catalog).equals(catalogBytes)).toBe(true);
    expect(fs.readFileSync(layout.viewsDatabase).equals(baseBytes)).toBe(true);
  });

  it('gives each query a session of its own: a temp view one query leaves never shadows a read model for the next', async () => {
    const reader = new ServingReader({}, () => undefined);
    reader.adopt({ base: { id: 1, catalog, base: layout.viewsDatabase }, versions: [...versions], delta: new ServingDelta(versions).state(), merged: false });
    // A temp object lives in the connection's own catalog, which a read-only file does not cover.
    await reader.query("EXPLAIN ANALYZE CREATE TEMP VIEW superchargers AS SELECT 'PWNED' AS supercharger_serial", 10, 60_000).catch(() => null);
    const answer = await reader.query("SELECT count(*) AS n FROM superchargers WHERE supercharger_serial = 'PWNED'", 10, 60_000);
    expect(answer.rows[0].n).toBe(0);
    expect(Number((await reader.query('SELECT count(*) AS n FROM superchargers', 10, 60_000)).rows[0].n)).toBeGreaterThan(0);
  });

  it('follows steps sent while a new base opens, and answers from the old base until then', async () => {
    const reader = new ServingReader({}, () => undefined);
    reader.adopt({ base: { id: 1, catalog, base: layout.viewsDatabase }, versions: [...versions], delta: new ServingDelta(versions).state(), merged: false });
    const version = versions.get('superchargers')!;
    reader.adopt({ base: { id: 2, catalog, base: layout.viewsDatabase }, versions: [...versions], delta: new ServingDelta(versions).state(), merged: false });
    const key = JSON.stringify({ supercharger_serial: 'STEP-1' });
    const row = JSON.stringify({ supercharger_serial: 'STEP-1', location_name: 'X', supercharger_type: 'V4', lat: 1, long: 2, status: 'notinuse', registered_at: '2026-03-01T10:00:00Z', status_changed_at: '2026-03-01T10:00:00Z', version: 1 });
    reader.step({ readModel: 'superchargers', fromVersion: version, toVersion: version + 1, replaced: [], added: [{ row, key, mutable: true }] });
    const answer = await reader.query("SELECT count(*) AS n FROM superchargers WHERE supercharger_serial = 'STEP-1'", 10, 60_000);
    expect(answer.rows[0].n).toBe(1);
  });

  it('answers a query that waited for a base which a newer one replaced before it opened', async () => {
    const reader = new ServingReader({}, () => undefined);
    const state = { versions: [...versions], delta: new ServingDelta(versions).state(), merged: false };
    reader.adopt({ base: { id: 1, catalog, base: layout.viewsDatabase }, ...state });
    const waiting = reader.query('SELECT count(*) AS n FROM superchargers', 10, 60_000);
    reader.adopt({ base: { id: 2, catalog, base: layout.viewsDatabase }, ...state });
    expect(Number((await waiting).rows[0].n)).toBeGreaterThan(0);
  });

  it('lays the steps it holds over a merged base sent without rows, leaving out those the base holds', async () => {
    const reader = new ServingReader({}, () => undefined);
    reader.adopt({ base: { id: 1, catalog, base: layout.viewsDatabase }, versions: [...versions], delta: new ServingDelta(versions).state(), merged: false });
    const version = versions.get('superchargers')!;
    const registered = (serial: string) => JSON.stringify({ supercharger_serial: serial, location_name: 'X', supercharger_type: 'V4', lat: 1, long: 2, status: 'notinuse', registered_at: '2026-03-01T10:00:00Z', status_changed_at: '2026-03-01T10:00:00Z', version: 1 });
    const added = (serial: string) => ({ row: registered(serial), key: JSON.stringify({ supercharger_serial: serial }), mutable: true });
    reader.step({ readModel: 'superchargers', fromVersion: version, toVersion: version + 1, replaced: [], added: [added('HELD-1')] });
    reader.step({ readModel: 'superchargers', fromVersion: version + 1, toVersion: version + 2, replaced: [], added: [added('HELD-2')] });
    const count = async (serial: string) => Number((await reader.query(`SELECT count(*) AS n FROM superchargers WHERE supercharger_serial = '${serial}'`, 10, 60_000)).rows[0].n);
    // A base holding none of the steps (the same file and versions): both are laid over it.
    reader.adopt({ base: { id: 2, catalog, base: layout.viewsDatabase }, versions: [...versions], delta: null, merged: false });
    expect([await count('HELD-1'), await count('HELD-2')]).toEqual([1, 1]);
    // A base said to hold the first step (its version): only the second is laid over it.
    const merged = new Map(versions).set('superchargers', version + 1);
    reader.adopt({ base: { id: 3, catalog, base: layout.viewsDatabase }, versions: [...merged], delta: null, merged: false });
    expect([await count('HELD-1'), await count('HELD-2')]).toEqual([0, 1]);
    // Steps after it follow on, and a later base without rows still finds them.
    reader.step({ readModel: 'superchargers', fromVersion: version + 2, toVersion: version + 3, replaced: [], added: [added('HELD-3')] });
    reader.adopt({ base: { id: 4, catalog, base: layout.viewsDatabase }, versions: [...merged], delta: null, merged: false });
    expect([await count('HELD-1'), await count('HELD-2'), await count('HELD-3')]).toEqual([0, 1, 1]);
  });
});
