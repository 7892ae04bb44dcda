import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TSQL_SCRIPTS } from '../../cli/tsqlCommand.js';
import { REPO } from '../support/cli.js';
import { parseBatch, parseQueries, parseScript, splitBatches, type Statement, type TsqlObject } from '../support/tsqlScript.js';

const TSQL_DIR = path.join(REPO, 'sql', 'tsql');
const LAKE_URL = 'https://contoso.dfs.core.windows.net/lake/eventlake';

/** Every .sql file under sql/tsql/, relative to it. */
function shippedScripts(dir = TSQL_DIR): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return shippedScripts(full);
    return entry.name.endsWith('.sql') ? [path.relative(TSQL_DIR, full)] : [];
  });
}

async function parsed(file: string): Promise<Statement[]> {
  const text = fs.readFileSync(path.join(TSQL_DIR, file), 'utf8').replaceAll('$(lake_url)', LAKE_URL);
  return parseScript(file, text);
}

const objects = (statements: Statement[]): TsqlObject[] => statements.flatMap((s) => (s.kind === 'object' ? [s.object] : []));
const batch = (text: string) => parseBatch({ file: 'snippet.sql', line: 1, text });

describe('the T-SQL scripts (sql/tsql/)', () => {
  it('are all printed by `eventlake tsql` for Synapse, and the shared ones for Fabric', () => {
    expect([...TSQL_SCRIPTS.synapse].sort()).toEqual(shippedScripts().sort());
    expect(TSQL_SCRIPTS.fabric.every((file) => !file.startsWith('synapse/'))).toBe(true);
  });

  it.each(shippedScripts())('%s parses batch by batch as T-SQL', async (file) => {
    const statements = await parsed(file);
    expect(statements.length).toBe(splitBatches(file, fs.readFileSync(path.join(TSQL_DIR, file), 'utf8')).length);
    expect(statements.length).toBeGreaterThan(0);
  });

  it('Synapse setup makes one data source at the lake\'s tables/ folder and the read_models schema', async () => {
    const statements = await parsed('synapse/setup.sql');
    expect(statements).toEqual([
      { kind: 'dataSource', name: 'eventlake_tables', location: `${LAKE_URL}/tables/` },
      { kind: 'schema', name: 'read_models' },
    ]);
  });

  it('each read_models view reads the Delta table of its own name through that data source, and outputs its WITH columns', async () => {
    const views = objects(await parsed('synapse/read_models.sql'));
    expect(views.length).toBeGreaterThan(0);
    for (const view of views) {
      expect(view.schema).toBe('read_models');
      expect(view.rowset).toMatchObject({ bulk: view.name, dataSource: 'eventlake_tables' });
      expect(view.columns).toEqual(view.rowset!.columns.map((c) => c.name));
    }
  });

  it('the analysts\' views and functions are dbo objects reading only read_models, never files', async () => {
    for (const file of TSQL_SCRIPTS.fabric) {
      const text = fs.readFileSync(path.join(TSQL_DIR, file), 'utf8');
      expect(text).not.toMatch(/OPENROWSET|DATA_SOURCE/i);
      const found = objects(await parsed(file));
      expect(found.length).toBeGreaterThan(0);
      expect(found.every((o) => o.schema === 'dbo')).toBe(true);
      for (const object of found) {
        expect(object.reads.length).toBeGreaterThan(0);
        expect(object.reads.every((t) => t.startsWith('read_models.'))).toBe(true);
      }
    }
  });

  it('the T-SQL examples of docs/analytics-engines.md parse and read only the shipped views and functions', async () => {
    const shipped = new Set<string>();
    for (const file of TSQL_SCRIPTS.fabric) for (const o of objects(await parsed(file))) shipped.add(`${o.schema}.${o.name}`);
    const doc = fs.readFileSync(path.join(REPO, 'docs', 'analytics-engines.md'), 'utf8');
    const examples = [...doc.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(examples.length).toBeGreaterThan(0);
    for (const example of examples) {
      const reads = (await parseQueries('docs/analytics-engines.md', example)).flat();
      expect(reads.length).toBeGreaterThan(0);
      expect(reads.filter((name) => !shipped.has(name))).toEqual([]);
    }
  });

  it('the point-in-time functions take one UTC datetime2 parameter', async () => {
    const functions = [...objects(await parsed('superchargers.sql')), ...objects(await parsed('orders.sql'))].filter((o) => o.kind === 'function');
    expect(functions.map((f) => f.name).sort()).toEqual(['orders_as_of', 'superchargers_as_of']);
    for (const fn of functions) expect(fn.parameters).toEqual([{ name: '@ts', type: 'datetime2(6)' }]);
  });
});

describe('the T-SQL check refuses what Synapse and Fabric would', () => {
  const duckdbMacro = fs.readFileSync(path.join(REPO, 'sql', 'superchargers.sql'), 'utf8').match(/CREATE MACRO[\s\S]*?;/)![0];

  it.each([
    ["DuckDB's table macro", duckdbMacro, /CREATE|MACRO|Expected/],
    ['a DuckDB function', 'CREATE OR ALTER VIEW dbo.v AS SELECT fsum(total_amount) AS total FROM read_models.orders', /fsum/i],
    ['LIMIT', 'CREATE OR ALTER VIEW dbo.v AS SELECT order_id FROM read_models.orders LIMIT 5', /LIMIT/],
    ['ORDER BY in a view', 'CREATE OR ALTER VIEW dbo.v AS SELECT day FROM read_models.daily_status_changes ORDER BY day', /ORDER BY/],
    ['JOIN ... USING', 'CREATE OR ALTER VIEW dbo.v AS SELECT order_id FROM read_models.orders JOIN read_models.order_status_history USING (order_id)', /USING/],
    ['a typed timestamp literal', "CREATE OR ALTER VIEW dbo.v AS SELECT order_id FROM read_models.orders WHERE created_at < TIMESTAMP '2026-01-01'", /typed literal/],
    ['a :: cast', 'CREATE OR ALTER VIEW dbo.v AS SELECT created_at::date AS d FROM read_models.orders', /::/],
    ['SELECT *', 'CREATE OR ALTER VIEW dbo.v AS SELECT * FROM read_models.orders', /needs a name/],
    ['an unnamed expression', 'CREATE OR ALTER VIEW dbo.v AS SELECT CAST(created_at AS date) FROM read_models.orders', /needs a name/],
    ['two statements in one batch', 'CREATE OR ALTER VIEW dbo.a AS SELECT order_id FROM read_models.orders; CREATE OR ALTER VIEW dbo.b AS SELECT order_id FROM read_models.orders', /exactly one statement/],
    ['a typo', 'CREATE OR ALTER VIEW dbo.v AS SELEC order_id FROM read_models.orders', /Expected/],
    ['an unqualified view name', 'CREATE OR ALTER VIEW v AS SELECT order_id FROM read_models.orders', /schema/],
    ['a scalar function', 'CREATE FUNCTION dbo.f (@ts datetime2(6)) RETURNS int AS RETURN (SELECT 1 AS one)', /inline table-valued/],
    ['OPENROWSET without FORMAT = DELTA', "CREATE OR ALTER VIEW read_models.orders AS SELECT order_id FROM OPENROWSET(BULK 'orders', DATA_SOURCE = 'eventlake_tables', FORMAT = 'PARQUET') WITH (order_id varchar(800)) AS r", /OPENROWSET must read one Delta table/],
    ['a WITH column without a type', "CREATE OR ALTER VIEW read_models.orders AS SELECT order_id FROM OPENROWSET(BULK 'orders', DATA_SOURCE = 'eventlake_tables', FORMAT = 'DELTA') WITH (order_id, status varchar(64)) AS r", /Expected|WITH column/],
    ['a data source with a credential typo', "CREATE EXTERNAL DATA SOURCE x WITH (LOCATION = 'https://a/b', CREDENTIALS = y)", /CREATE EXTERNAL DATA SOURCE/],
  ])('%s', async (_what, sql, message) => {
    await expect(batch(sql)).rejects.toThrow(message);
  });

  it('while the same view written as T-SQL passes', async () => {
    const statement = await batch('CREATE OR ALTER VIEW dbo.v AS SELECT CAST(created_at AS date) AS d, COUNT_BIG(*) AS n FROM read_models.orders GROUP BY CAST(created_at AS date)');
    expect(statement).toEqual({ kind: 'object', object: { kind: 'view', schema: 'dbo', name: 'v', columns: ['d', 'n'], parameters: [], reads: ['read_models.orders'], rowset: undefined } });
  });
});
