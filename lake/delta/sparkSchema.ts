/**
 * Delta stores a table's schema as Spark's JSON schema (`metaData.schemaString`). eventlake builds
 * its tables with DuckDB, so this file translates DuckDB column types into that form and back into
 * readable type names.
 */

/** A Spark data type as it appears in a schemaString: a primitive name or a nested type. */
export type SparkDataType = string | StructType | ArrayType | MapType;

/** One column (or nested field). eventlake always writes nullable fields with empty metadata. */
export interface StructField {
  name: string;
  type: SparkDataType;
  nullable: boolean;
  metadata: Record<string, unknown>;
}

/** The table schema itself, and any struct-typed column. */
export interface StructType {
  type: 'struct';
  fields: StructField[];
}

export interface ArrayType {
  type: 'array';
  elementType: SparkDataType;
  containsNull: boolean;
}

export interface MapType {
  type: 'map';
  keyType: SparkDataType;
  valueType: SparkDataType;
  valueContainsNull: boolean;
}

/** A column as DuckDB describes it, e.g. `{name: 'total', type: 'DECIMAL(18,2)'}`. */
export interface DuckColumn {
  name: string;
  type: string;
}

const PRIMITIVES: Record<string, string> = {
  VARCHAR: 'string',
  TEXT: 'string',
  STRING: 'string',
  BIGINT: 'long',
  INT8: 'long',
  INTEGER: 'integer',
  INT: 'integer',
  INT4: 'integer',
  SMALLINT: 'short',
  INT2: 'short',
  TINYINT: 'byte',
  INT1: 'byte',
  DOUBLE: 'double',
  FLOAT8: 'double',
  FLOAT: 'float',
  REAL: 'float',
  FLOAT4: 'float',
  BOOLEAN: 'boolean',
  BOOL: 'boolean',
  DATE: 'date',
  'TIMESTAMP WITH TIME ZONE': 'timestamp',
  TIMESTAMPTZ: 'timestamp',
};

// Delta's plain `timestamp` is an instant (UTC). A zone-less DuckDB TIMESTAMP is a wall-clock time,
// which Delta only models as `timestamp_ntz`: a table feature that needs reader version 3.
const ZONELESS_TIMESTAMPS = new Set([
  'TIMESTAMP',
  'TIMESTAMP WITHOUT TIME ZONE',
  'DATETIME',
  'TIMESTAMP_S',
  'TIMESTAMP_MS',
  'TIMESTAMP_NS',
]);

/** The Spark type for one DuckDB type name; throws for types eventlake does not write to Delta. */
export function sparkType(duckType: string): SparkDataType {
  const normalized = duckType.trim().toUpperCase().replace(/\s+/g, ' ');
  if (normalized.endsWith('[]')) {
    return { type: 'array', elementType: sparkType(normalized.slice(0, -2)), containsNull: true };
  }
  const primitive = PRIMITIVES[normalized];
  if (primitive) return primitive;
  const decimal = /^(?:DECIMAL|NUMERIC)(?:\s*\(\s*(\d+)\s*,\s*(\d+)\s*\))?$/.exec(normalized);
  // A bare DECIMAL is DuckDB's DECIMAL(18,3).
  if (decimal) return `decimal(${decimal[1] ?? 18},${decimal[2] ?? 3})`;
  if (ZONELESS_TIMESTAMPS.has(normalized)) {
    throw new Error(
      `DuckDB type ${duckType} (timestamp without time zone) cannot be stored in a Delta table read by ` +
        'reader version 1: it needs timestamp_ntz (reader version 3). Cast the column to TIMESTAMPTZ.',
    );
  }
  throw new Error(`DuckDB type ${duckType} has no Delta (Spark) equivalent that eventlake supports`);
}

/** The Spark schema for DuckDB columns: every field nullable, with empty metadata. */
export function sparkSchema(columns: DuckColumn[]): StructType {
  return {
    type: 'struct',
    fields: columns.map((column) => ({ name: column.name, type: sparkType(column.type), nullable: true, metadata: {} })),
  };
}

/** `metaData.schemaString` for DuckDB columns. */
export function sparkSchemaString(columns: DuckColumn[]): string {
  return JSON.stringify(sparkSchema(columns));
}

/** Parses a schemaString; throws when it is not a struct (the only valid top level). */
export function parseSchemaString(schemaString: string): StructType {
  const parsed = JSON.parse(schemaString) as StructType;
  if (parsed?.type !== 'struct' || !Array.isArray(parsed.fields)) {
    throw new Error(`schemaString is not a Spark struct type: ${schemaString.slice(0, 200)}`);
  }
  return parsed;
}

/** Spark's short spelling of a type, e.g. `long`, `array<string>`, `struct<a:int>`. */
export function sparkTypeName(type: SparkDataType): string {
  if (typeof type === 'string') return type;
  switch (type.type) {
    case 'array':
      return `array<${sparkTypeName(type.elementType)}>`;
    case 'map':
      return `map<${sparkTypeName(type.keyType)},${sparkTypeName(type.valueType)}>`;
    case 'struct':
      return `struct<${type.fields.map((f) => `${f.name}:${sparkTypeName(f.type)}`).join(',')}>`;
  }
}

const DUCK_PRIMITIVES: Record<string, string> = {
  string: 'VARCHAR',
  long: 'BIGINT',
  integer: 'INTEGER',
  short: 'SMALLINT',
  byte: 'TINYINT',
  double: 'DOUBLE',
  float: 'FLOAT',
  boolean: 'BOOLEAN',
  date: 'DATE',
  timestamp: 'TIMESTAMPTZ',
  timestamp_ntz: 'TIMESTAMP',
  binary: 'BLOB',
};

/**
 * The DuckDB type DuckDB's Parquet reader gives a column of this Spark type (the reverse of
 * `sparkType`), e.g. to type an empty result with the table's columns.
 */
export function duckType(type: SparkDataType): string {
  if (typeof type === 'string') {
    const primitive = DUCK_PRIMITIVES[type];
    if (primitive) return primitive;
    const decimal = /^decimal\((\d+),\s*(\d+)\)$/.exec(type);
    if (decimal) return `DECIMAL(${decimal[1]},${decimal[2]})`;
    throw new Error(`Spark type ${type} has no DuckDB equivalent that eventlake supports`);
  }
  switch (type.type) {
    case 'array':
      return `${duckType(type.elementType)}[]`;
    case 'map':
      return `MAP(${duckType(type.keyType)}, ${duckType(type.valueType)})`;
    case 'struct':
      return `STRUCT(${type.fields.map((f) => `"${f.name.replaceAll('"', '""')}" ${duckType(f.type)}`).join(', ')})`;
  }
}
