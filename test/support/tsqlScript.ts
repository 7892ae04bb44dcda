import { init, parse } from '@guanmingchiu/sqlparser-ts';

/**
 * Reads the shipped T-SQL scripts (sql/tsql/) the way Synapse serverless SQL and the Fabric SQL
 * endpoint take them: GO-separated batches of one statement each. Each batch is parsed by
 * datafusion-sqlparser-rs with its MsSqlDialect. That parser has no grammar for two Synapse
 * constructs, `CREATE EXTERNAL DATA SOURCE` and `OPENROWSET(BULK ..., FORMAT = 'DELTA') WITH (...)`,
 * so those are recognized here by their exact documented shape, and the statement around an
 * OPENROWSET (and its WITH column list, as column definitions) still goes through the parser.
 * The parser accepts some syntax T-SQL does not have (LIMIT, ::, ILIKE, QUALIFY, ...), so the
 * parsed tree is also checked for those.
 */

export interface Batch {
  file: string;
  /** 1-based line of the batch's first line in its file. */
  line: number;
  text: string;
}

export interface Column {
  name: string;
  /** The T-SQL type as written, without any COLLATE clause, e.g. `varchar(800)`. */
  type: string;
}

/** `OPENROWSET(BULK '<bulk>', DATA_SOURCE = '<dataSource>', FORMAT = 'DELTA') WITH (<columns>) AS <alias>` */
export interface DeltaRowset {
  bulk: string;
  dataSource: string;
  columns: Column[];
}

/** A view or an inline table-valued function, with the names of its output columns in order. */
export interface TsqlObject {
  kind: 'view' | 'function';
  schema: string;
  name: string;
  columns: string[];
  /** A function's parameters, e.g. `[{name: '@ts', type: 'datetime2(6)'}]`. */
  parameters: Column[];
  /** The tables and views it reads (schema.name), in the order they appear. */
  reads: string[];
  /** The Delta table a read_models view reads. */
  rowset?: DeltaRowset;
}

export type Statement =
  | { kind: 'object'; object: TsqlObject }
  | { kind: 'dataSource'; name: string; location: string }
  | { kind: 'schema'; name: string }
  | { kind: 'dropFunction'; schema: string; name: string };

/** The T-SQL built-ins the scripts may call (anything else is likely a DuckDB function left over). */
const BUILT_INS = new Set(['COUNT', 'COUNT_BIG', 'SUM', 'MIN', 'MAX', 'AVG']);

let ready: Promise<void> | undefined;

/** Splits a script at its `GO` lines; batches holding only comments are dropped. */
export function splitBatches(file: string, text: string): Batch[] {
  const batches: Batch[] = [];
  let start = 0;
  let lines: string[] = [];
  const flush = () => {
    const body = lines.join('\n');
    if (stripComments(body).trim()) batches.push({ file, line: start + 1, text: body });
  };
  text.split('\n').forEach((line, i) => {
    if (/^\s*GO\s*$/i.test(line)) {
      flush();
      lines = [];
      start = i + 1;
    } else lines.push(line);
  });
  flush();
  return batches;
}

/** Parses one batch; throws naming the file and line when it is not one T-SQL statement of the kinds the scripts use. */
export async function parseBatch(batch: Batch): Promise<Statement> {
  ready ??= init();
  await ready;
  const where = `${batch.file}:${batch.line}`;
  const text = stripComments(batch.text).trim();
  try {
    if (/^CREATE\s+EXTERNAL\b/i.test(text)) return externalDataSource(text);
    const { sql, rowset } = extractDeltaRowset(text);
    const statements = parse(sql, 'mssql') as unknown[];
    if (statements.length !== 1) throw new Error(`a batch must hold exactly one statement, found ${statements.length}`);
    const statement = withoutSpans(statements[0]) as Json;
    assertTsqlOnly(statement);
    return interpret(statement, rowset, text);
  } catch (error) {
    throw new Error(`${where}: ${(error as Error).message}`);
  }
}

/** Every batch of a script, parsed. */
export async function parseScript(file: string, text: string): Promise<Statement[]> {
  const parsed: Statement[] = [];
  for (const batch of splitBatches(file, text)) parsed.push(await parseBatch(batch));
  return parsed;
}

/**
 * An analyst's query script, as in the docs' examples: DECLAREs and SELECTs in one batch. Returns,
 * per SELECT, the tables, views and functions it reads.
 */
export async function parseQueries(where: string, text: string): Promise<string[][]> {
  ready ??= init();
  await ready;
  try {
    const statements = (parse(text, 'mssql') as unknown[]).map(withoutSpans) as Json[];
    return statements.flatMap((statement) => {
      assertTsqlOnly(statement);
      if (statement.Declare) return [];
      if (statement.Query) return [relations(statement.Query)];
      throw new Error(`expected only DECLARE and SELECT, found ${Object.keys(statement)[0]}`);
    });
  } catch (error) {
    throw new Error(`${where}: ${(error as Error).message}`);
  }
}

type Json = Record<string, any>;

function stripComments(text: string): string {
  return text.replace(/^\s*--.*$/gm, '');
}

function withoutSpans(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (key, v) => (key === 'span' ? undefined : v)));
}

// CREATE EXTERNAL DATA SOURCE name WITH (LOCATION = '...'), as in Microsoft's serverless examples.
function externalDataSource(text: string): Statement {
  const match = /^CREATE\s+EXTERNAL\s+DATA\s+SOURCE\s+(\w+)\s+WITH\s*\(\s*LOCATION\s*=\s*'([^']*)'\s*\)\s*;?$/i.exec(text);
  if (!match) throw new Error('not a CREATE EXTERNAL DATA SOURCE <name> WITH (LOCATION = \'<url>\') statement');
  return { kind: 'dataSource', name: match[1], location: match[2] };
}

const ROWSET = /OPENROWSET\s*\(\s*BULK\s+'([^']+)'\s*,\s*DATA_SOURCE\s*=\s*'(\w+)'\s*,\s*FORMAT\s*=\s*'DELTA'\s*\)\s*WITH\s*\(([\s\S]*?)\)\s*AS\s+(\w+)/gi;
const ROWSET_STAND_IN = 'openrowset_delta_rowset';

/**
 * Replaces the one OPENROWSET(... FORMAT = 'DELTA') WITH (...) AS alias of a statement by a table
 * reference with the same alias, so the rest parses; the WITH list is parsed as column definitions.
 */
function extractDeltaRowset(text: string): { sql: string; rowset?: DeltaRowset } {
  if (!/OPENROWSET/i.test(text)) return { sql: text };
  const matches = [...text.matchAll(ROWSET)];
  if (matches.length !== 1 || (text.match(/OPENROWSET/gi) ?? []).length !== 1) {
    throw new Error("OPENROWSET must read one Delta table: OPENROWSET(BULK '<table>', DATA_SOURCE = '<name>', FORMAT = 'DELTA') WITH (<columns>) AS <alias>");
  }
  const [whole, bulk, dataSource, withList, alias] = matches[0];
  return { sql: text.replace(whole, `${ROWSET_STAND_IN} AS ${alias}`), rowset: { bulk, dataSource, columns: withColumns(withList) } };
}

function withColumns(list: string): Column[] {
  const definitions = parse(`CREATE TABLE with_clause (${list})`, 'mssql') as Json[];
  const names: string[] = definitions[0].CreateTable.columns.map((c: Json) => c.name.value);
  const written = splitTopLevel(list).map((entry) => /^(\S+)\s+(.+?)(?:\s+COLLATE\s+\w+)?$/is.exec(entry.trim()));
  return names.map((name, i) => {
    const entry = written[i];
    if (!entry || entry[1] !== name) throw new Error(`WITH column ${i + 1}: expected "${name} <type>"`);
    return { name, type: entry[2].replace(/\s+/g, '') };
  });
}

function splitTopLevel(list: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of list) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  return [...parts, current];
}

/** Constructs the parser accepts that T-SQL has not: each is a DuckDB or PostgreSQL habit. */
function assertTsqlOnly(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(assertTsqlOnly);
  if (node === null || typeof node !== 'object') return;
  const n = node as Json;
  const refuse = (what: string) => {
    throw new Error(`${what} is not T-SQL`);
  };
  if (n.limit_clause) refuse('LIMIT (use TOP)');
  if (n.qualify) refuse('QUALIFY');
  if (n.group_by?.All) refuse('GROUP BY ALL');
  if (n.Cast?.kind === 'DoubleColon') refuse('a :: cast (use CAST)');
  if (n.ILike) refuse('ILIKE');
  if (n.TypedString) refuse("a typed literal such as TIMESTAMP '...' (use CAST)");
  if (n.join_operator && Object.values(n.join_operator).some((join: any) => join?.Using)) refuse('JOIN ... USING (use ON)');
  if (typeof n.BinaryOp?.op === 'string' && /Arrow|Hash|AtAt|Question/.test(n.BinaryOp.op)) refuse(`the ${n.BinaryOp.op} operator`);
  if (n.Function) {
    const name = n.Function.name.map((part: Json) => part.Identifier.value).join('.').toUpperCase();
    if (!BUILT_INS.has(name)) refuse(`the function ${name}() (not one of the T-SQL built-ins ${[...BUILT_INS].join(', ')})`);
  }
  for (const value of Object.values(n)) assertTsqlOnly(value);
}

function interpret(statement: Json, rowset: DeltaRowset | undefined, text: string): Statement {
  if (statement.CreateSchema) return { kind: 'schema', name: objectName(statement.CreateSchema.schema_name.Simple)[0] };
  if (statement.DropFunction) {
    const [schema, name] = qualified(statement.DropFunction.func_desc[0].name);
    return { kind: 'dropFunction', schema, name };
  }
  if (statement.CreateView) {
    const view = statement.CreateView;
    if (view.query.order_by) throw new Error('a view cannot have ORDER BY in T-SQL');
    if (view.columns.length) throw new Error('name the columns in the SELECT, not after the view name');
    const [schema, name] = qualified(view.name);
    const reads = relations(view.query).filter((t) => t !== ROWSET_STAND_IN);
    return { kind: 'object', object: { kind: 'view', schema, name, columns: outputColumns(view.query), parameters: [], reads, rowset } };
  }
  if (statement.CreateFunction) {
    const fn = statement.CreateFunction;
    if (!/\bRETURNS\s+TABLE\s+AS\s+RETURN\b/i.test(text)) throw new Error('only inline table-valued functions (RETURNS TABLE AS RETURN) are allowed');
    const body = fn.function_body?.AsReturnExpr?.Subquery ?? fn.function_body?.AsReturnSelect;
    if (!body) throw new Error('the function must RETURN one SELECT');
    const [schema, name] = qualified(fn.name);
    const parameters = (fn.args ?? []).map((arg: Json) => ({ name: arg.name.value, type: typeName(arg.data_type) }));
    return { kind: 'object', object: { kind: 'function', schema, name, columns: outputColumns(body), parameters, reads: relations(body) } };
  }
  throw new Error(`unexpected statement ${Object.keys(statement)[0]}`);
}

function objectName(parts: Json[]): string[] {
  return parts.map((part) => part.Identifier?.value ?? part.value);
}

function qualified(parts: Json[]): [string, string] {
  const names = objectName(parts);
  if (names.length !== 2) throw new Error(`name ${names.join('.')} with its schema (schema.name)`);
  return [names[0], names[1]];
}

/** Every table or view named in FROM and JOIN clauses, anywhere in the tree. */
function relations(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(relations);
  if (node === null || typeof node !== 'object') return [];
  const n = node as Json;
  const own = n.relation?.Table ? [objectName(n.relation.Table.name).join('.')] : [];
  return [...own, ...Object.values(n).flatMap(relations)];
}

function outputColumns(query: Json): string[] {
  const select = query.body?.Select ?? (query.projection ? query : undefined);
  if (!select) throw new Error('expected a plain SELECT');
  return select.projection.map((item: Json, i: number) => {
    if (item.ExprWithAlias) return item.ExprWithAlias.alias.value;
    const expr = item.UnnamedExpr;
    if (expr?.Identifier) return expr.Identifier.value;
    if (expr?.CompoundIdentifier) return expr.CompoundIdentifier.at(-1).value;
    throw new Error(`output column ${i + 1} needs a name (no *, an expression needs AS)`);
  });
}

function typeName(dataType: Json | string): string {
  if (typeof dataType === 'string') return dataType.toLowerCase();
  const custom = dataType.Custom;
  if (custom) return `${objectName(custom[0]).join('.')}${custom[1].length ? `(${custom[1].join(',')})` : ''}`.toLowerCase();
  return Object.keys(dataType)[0]?.toLowerCase() ?? 'unknown';
}
