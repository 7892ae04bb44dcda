import type { Domain } from '../domains/domain.js';
import { Duck, sqlIdent } from '../lake/duckdb.js';
import { loadRows } from '../projections/batchTables.js';
import type { Row } from '../projections/projection.js';
import { runQuery } from '../views/query.js';
import { analystColumn, domainSql, SHARED_SQL } from '../views/viewsDatabase.js';
import { withIsoTimestamps } from '../views/isoTimestamps.js';

/**
 * Runs a domain's view SQL over given read-model rows in an in-memory DuckDB, without a lake, and
 * answers one query as `eventlake query --json` would. The read models are set up as the views
 * database has them (`read_models_tz.<name>` as stored, `read_models.<name>` with UTC timestamps,
 * the shared macros), so the domain's SQL file runs unchanged; a read model not given is empty.
 * Rows are what the table holds (e.g. from `projectionRows`), timestamps as ISO-8601 strings.
 *
 *     await viewRows(bank, { accounts: [{ account_id: 'A1', balance: 10, ... }] }, 'SELECT * FROM accounts_as_of(...)');
 */
export async function viewRows(domain: Domain, readModels: Record<string, readonly Row[]>, sql: string): Promise<Row[]> {
  const known = new Set(domain.projections.map((p) => p.name));
  for (const name of Object.keys(readModels)) {
    if (!known.has(name)) throw new Error(`viewRows: domain ${domain.name} has no projection "${name}" (it has ${[...known].join(', ')})`);
  }
  const duck = await Duck.open();
  try {
    await duck.runScript(SHARED_SQL);
    for (const projection of domain.projections) {
      const stored = `read_models_tz.${sqlIdent(projection.name)}`;
      await loadRows(duck, `given_${projection.name}`, [...(readModels[projection.name] ?? [])], projection.columns);
      await duck.run(`CREATE VIEW ${stored} AS SELECT * FROM ${sqlIdent(`given_${projection.name}`)}`);
      await duck.run(`CREATE VIEW read_models.${sqlIdent(projection.name)} AS SELECT ${projection.columns.map(analystColumn).join(', ')} FROM ${stored}`);
    }
    if (domain.sqlFile !== undefined) await duck.runScript(await viewSql(domain));
    const { columns, rows } = await runQuery(duck, sql);
    return withIsoTimestamps(columns, rows);
  } finally {
    duck.close();
  }
}

async function viewSql(domain: Domain): Promise<string> {
  try {
    return await domainSql(domain);
  } catch (error) {
    // Outside `jobs.config.json` no module folder is known to resolve a relative path against.
    const hint = typeof domain.sqlFile === 'string' ? `; declare it as new URL('./${domain.sqlFile}', import.meta.url) to find it beside the domain module` : '';
    throw new Error(`viewRows: cannot read the SQL of domain ${domain.name}: ${(error as Error).message}${hint}`, { cause: error });
  }
}
