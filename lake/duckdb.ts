import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

type Driver = typeof import('@duckdb/node-api');
/**
 * The driver loads on the first open: ~0.4 s of CPU that commands without SQL (ingest, init,
 * --version) need not pay at start. Once a Duck exists, `loaded` is set.
 */
let driver: Promise<Driver> | undefined;
let loaded: Driver | undefined;
const duckdb = () => (driver ??= import('@duckdb/node-api').then((module) => (loaded = module)));

/** A JSON-safe row as DuckDB returns it (BIGINT as string, timestamps as text). */
export type JsonRow = Record<string, unknown>;

/**
 * The one place that talks to the DuckDB driver. Everything else in eventlake reads as domain
 * code: open a database, run SQL, read rows, copy a query to Parquet.
 */
export class Duck {
  private constructor(
    private readonly instance: DuckDBInstance,
    readonly connection: DuckDBConnection,
    /** False for a further connection (`connect`): closing it leaves the database open. */
    private readonly ownsInstance = true,
  ) {}

  /** An in-process database; `path` ':memory:' (default) or a DuckDB file. */
  static async open(path = ':memory:', options: Record<string, string> = {}): Promise<Duck> {
    const instance = await (await duckdb()).DuckDBInstance.create(path, options);
    const connection = await instance.connect();
    const duck = new Duck(instance, connection);
    // Every timestamp eventlake writes is UTC; never let the host's zone leak into results.
    // GLOBAL: the time zone is a session setting, and a further connection (`connect`, made after
    // a lock_configuration that refuses any SET) would otherwise read in the host's zone.
    await duck.run("SET GLOBAL TimeZone = 'UTC'");
    return duck;
  }

  /**
   * Another connection to the same database. It has its own temp objects and session settings
   * (a `SET search_path`, a `CREATE TEMP VIEW`), which end when it is closed; global settings
   * and the database's catalogs are shared.
   */
  async connect(): Promise<Duck> {
    return new Duck(this.instance, await this.instance.connect(), false);
  }

  /**
   * Registers a table function of one VARCHAR column for the whole database: `name(argument)`
   * returns `rows(argument)`, taken once when a statement binds it, so a statement sees one
   * state however long it scans. DuckDB calls back into this JS thread for every chunk.
   */
  registerStringTableFunction(name: string, column: string, rows: (argument: string) => readonly string[]): void {
    const CHUNK = 2048;
    const { DuckDBTableFunction, VARCHAR } = loaded!; // loaded by the open that made this Duck
    const fn = DuckDBTableFunction.create({
      name,
      parameterTypes: [VARCHAR],
      bindFunction: (bind) => {
        const values = rows(String(bind.getParameter(0)));
        bind.addResultColumn(column, VARCHAR);
        bind.setBindData({ values });
        bind.setCardinality(values.length, true);
      },
      initFunction: (init) => {
        init.setInitData({ at: 0 });
        init.setMaxThreads(1);
      },
      mainFunction: (info, output) => {
        const { values } = info.getBindData() as { values: readonly string[] };
        const state = info.getInitData() as { at: number };
        const count = Math.min(CHUNK, values.length - state.at);
        output.rowCount = count;
        if (count > 0) output.setColumnValues(0, values.slice(state.at, state.at + count));
        state.at += count;
      },
    });
    this.connection.registerTableFunction(fn);
  }

  async run(sql: string): Promise<void> {
    await this.connection.run(sql);
  }

  /** Runs a script of several statements separated by semicolons. */
  async runScript(sql: string): Promise<void> {
    const statements = await this.connection.extractStatements(sql);
    for (let i = 0; i < statements.count; i++) {
      const prepared = await statements.prepare(i);
      await prepared.run();
    }
  }

  /** DuckDB's own classification of a single statement (SELECT, INSERT, COPY, ATTACH, ...). */
  async statementKind(sql: string): Promise<string> {
    const statements = await this.connection.extractStatements(sql);
    if (statements.count !== 1) throw new Error(`expected exactly one SQL statement, got ${statements.count}`);
    const prepared = await statements.prepare(0);
    return (await duckdb()).StatementType[prepared.statementType];
  }

  async rows(sql: string): Promise<JsonRow[]> {
    const reader = await this.connection.runAndReadAll(sql);
    return reader.getRowObjectsJson() as JsonRow[];
  }

  /** Rows plus the column names and DuckDB type names, in result order. */
  async table(sql: string): Promise<{ columns: { name: string; type: string }[]; rows: JsonRow[] }> {
    const reader = await this.connection.runAndReadAll(sql);
    const names = reader.columnNames();
    const types = reader.columnTypes().map((t) => t.toString());
    return { columns: names.map((name, i) => ({ name, type: types[i] })), rows: reader.getRowObjectsJson() as JsonRow[] };
  }

  /**
   * Appends rows to an existing table with DuckDB's appender: one native call per value instead
   * of parsing INSERT statements (about 25 ms for 10,000 rows of two columns on this machine).
   * A bigint goes to a BIGINT column, a number to INTEGER, a string to VARCHAR.
   */
  async append(table: { name: string; schema?: string; catalog?: string }, rows: Iterable<readonly (bigint | number | string | null)[]>): Promise<void> {
    const appender = await this.connection.createAppender(table.name, table.schema ?? null, table.catalog ?? null);
    try {
      for (const row of rows) {
        for (const value of row) {
          if (value === null) appender.appendNull();
          else if (typeof value === 'bigint') appender.appendBigInt(value);
          else if (typeof value === 'number') appender.appendInteger(value);
          else appender.appendVarchar(value);
        }
        appender.endRow();
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
  }

  async scalar<T = unknown>(sql: string): Promise<T> {
    const [row] = await this.rows(sql);
    return (row ? Object.values(row)[0] : undefined) as T;
  }

  close(): void {
    this.connection.closeSync();
    if (this.ownsInstance) this.instance.closeSync();
  }
}

/** SQL string literal. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** SQL identifier, quoted. */
export function sqlIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A DuckDB list literal of file paths, for read_parquet / read_json. */
export function sqlPathList(paths: string[]): string {
  return `[${paths.map(sqlString).join(', ')}]`;
}
