import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { Duck } from '../../lake/duckdb.js';
import { eventlake, eventlakeJson, tempDir, writeNdjson } from '../support/cli.js';
import { parseScript, type Statement, type TsqlObject } from '../support/tsqlScript.js';

const LAKE_URL = 'abfss://lake@contoso.dfs.core.windows.net/eventlake';

/** A DuckDB view or table macro of the views database, with its output columns. */
interface DuckObject {
  kind: 'view' | 'function';
  name: string;
  columns: { name: string; type: string }[];
  parameters: string[];
}

/**
 * Synapse's type for what DuckDB shows in read_models (Delta string, long, integer, double, date,
 * timestamp shown as UTC TIMESTAMP): the Parquet mapping of Microsoft's OPENROWSET page.
 */
const SYNAPSE_TYPE: Record<string, RegExp> = {
  VARCHAR: /^varchar\(\d+\)$/,
  BIGINT: /^bigint$/,
  INTEGER: /^int$/,
  DOUBLE: /^float$/,
  DATE: /^date$/,
  TIMESTAMP: /^datetime2\(6\)$/,
};

describe('the T-SQL views against the DuckDB views of a real lake', () => {
  const dir = tempDir();
  const lake = path.join(dir, 'lake');
  let duck: Duck;
  let synapse: Statement[];
  let fabric: Statement[];

  beforeAll(async () => {
    await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, 'c.ndjson'), [...sampleNdjson({ count: 200, seed: 11 })])]);
    await eventlakeJson(['--lake', lake, 'run']);
    duck = await Duck.open(path.join(lake, 'views.duckdb'), { access_mode: 'READ_ONLY' });
    synapse = await printed(['tsql', '--lake-url', LAKE_URL]);
    fabric = await printed(['tsql', '--engine', 'fabric']);
  }, 180_000);
  afterAll(() => duck?.close());

  async function printed(args: string[]): Promise<Statement[]> {
    const result = await eventlake(args);
    if (result.code !== 0) throw new Error(`eventlake ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    return parseScript(`eventlake ${args.join(' ')}`, result.stdout);
  }

  const tsqlObjects = (statements: Statement[], schema: string): TsqlObject[] =>
    statements.flatMap((s) => (s.kind === 'object' && s.object.schema === schema ? [s.object] : []));

  /** The analysts' views and table macros (main schema), or the read-model views (read_models). */
  async function duckObjects(schema: 'main' | 'read_models'): Promise<DuckObject[]> {
    const views = await duck.rows(`SELECT view_name FROM duckdb_views() WHERE NOT internal AND database_name = current_database() AND schema_name = '${schema}'`);
    const macros = await duck.rows(`SELECT function_name, parameters FROM duckdb_functions() WHERE function_type = 'table_macro' AND database_name = current_database() AND schema_name = '${schema}'`);
    const describe = async (from: string) => (await duck.rows(`DESCRIBE SELECT * FROM ${from}`)).map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
    const found: DuckObject[] = [];
    for (const v of views) found.push({ kind: 'view', name: String(v.view_name), columns: await describe(`${schema}.${v.view_name}`), parameters: [] });
    for (const m of macros) {
      const parameters = m.parameters as string[];
      const call = `${m.function_name}(${parameters.map(() => "TIMESTAMP '2026-01-01 00:00:00'").join(', ')})`;
      found.push({ kind: 'function', name: String(m.function_name), columns: await describe(call), parameters });
    }
    return found.sort((a, b) => a.name.localeCompare(b.name));
  }

  it('Synapse and Fabric get views and functions of the same names, kinds and output columns as DuckDB', async () => {
    const expected = (await duckObjects('main')).map((o) => ({ kind: o.kind, name: o.name, columns: o.columns.map((c) => c.name), parameters: o.parameters.length }));
    expect(expected.length).toBeGreaterThanOrEqual(9);
    for (const statements of [synapse, fabric]) {
      const actual = tsqlObjects(statements, 'dbo')
        .map((o) => ({ kind: o.kind, name: o.name, columns: o.columns, parameters: o.parameters.length }))
        .sort((a, b) => a.name.localeCompare(b.name));
      expect(actual).toEqual(expected);
    }
  });

  it("Synapse's read_models views have each Delta table's columns, in order, with the documented type mapping", async () => {
    const tables = await duckObjects('read_models');
    const views = new Map(tsqlObjects(synapse, 'read_models').map((v) => [v.name, v]));
    expect([...views.keys()].sort()).toEqual(tables.map((t) => t.name));
    for (const table of tables) {
      const with_ = views.get(table.name)!.rowset!.columns;
      expect(with_.map((c) => c.name)).toEqual(table.columns.map((c) => c.name));
      const mistyped = table.columns.filter((column, i) => !SYNAPSE_TYPE[column.type]?.test(with_[i].type));
      expect(mistyped.map((c) => `${table.name}.${c.name}: ${c.type} read as ${with_[table.columns.indexOf(c)].type}`)).toEqual([]);
    }
  });

  it('every timestamp the tables hold is Parquet INT64 TIMESTAMP(MICROS) adjusted to UTC, which Synapse reads as datetime2', async () => {
    const files = path.join(lake, 'tables', '*', '*.parquet');
    const timestamps = await duck.rows(
      `SELECT DISTINCT name, type, logical_type FROM parquet_schema('${files}') WHERE logical_type LIKE 'TimestampType%' OR converted_type LIKE 'TIMESTAMP%' OR type = 'INT96'`,
    );
    expect(timestamps.map((t) => t.name)).toEqual(expect.arrayContaining(['valid_from', 'valid_to', 'registered_at', 'received', 'created_at']));
    for (const t of timestamps) {
      expect(t.type).toBe('INT64');
      expect(String(t.logical_type)).toMatch(/isAdjustedToUTC=(1|true).*MICROS=MicroSeconds/);
    }
  });

  it('eventlake tsql sets the lake URL once, in the data source, and prints only the views for Fabric', async () => {
    const sources = synapse.filter((s) => s.kind === 'dataSource');
    expect(sources).toEqual([{ kind: 'dataSource', name: 'eventlake_tables', location: `${LAKE_URL}/tables/` }]);
    expect(fabric.some((s) => s.kind === 'dataSource' || (s.kind === 'object' && s.object.rowset))).toBe(false);
    const fromLakeOption = await eventlake(['--lake', `${LAKE_URL}/`, 'tsql']);
    expect(fromLakeOption.stdout).toContain(`LOCATION = '${LAKE_URL}/tables/'`);
    expect(fromLakeOption.stdout).not.toContain('$(lake_url)');
  });

  it.each([
    [['--lake', '/tmp/some-lake', 'tsql'], /reads the lake from ADLS Gen2: give its URL with --lake-url/],
    [['tsql', '--lake-url', "https://contoso.dfs.core.windows.net/lake/x'; DROP VIEW dbo.superchargers; --"], /no quotes, spaces or query string/],
    [['tsql', '--lake-url', 'https://contoso.dfs.core.windows.net/lake/x?sv=2024&sig=secret'], /query string/],
    [['tsql', '--engine', 'postgres'], /Allowed choices are synapse, fabric/],
  ])('eventlake %j is refused with a clear error', async (args, message) => {
    const result = await eventlake(args);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
    expect(result.stderr).not.toContain('secret');
  });
});
