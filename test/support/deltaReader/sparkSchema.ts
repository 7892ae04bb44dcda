/**
 * A table's schema from `metaData.schemaString` (PROTOCOL.md, "Schema Serialization Format"), and
 * how this reader gives values of each primitive type to a test: longs and doubles as numbers,
 * timestamps as ISO-8601 UTC strings (milliseconds, or microseconds when there are any), dates as
 * YYYY-MM-DD. Nested types are refused: no table this reader checks has them.
 */
export type SparkPrimitive = 'string' | 'long' | 'integer' | 'short' | 'byte' | 'float' | 'double' | 'boolean' | 'binary' | 'date' | 'timestamp';

export interface SparkField {
  name: string;
  type: SparkPrimitive;
  nullable: boolean;
}

const PRIMITIVES = new Set<string>(['string', 'long', 'integer', 'short', 'byte', 'float', 'double', 'boolean', 'binary', 'date', 'timestamp']);

export function parseSchemaString(schemaString: string): SparkField[] {
  const schema = JSON.parse(schemaString) as { type?: string; fields?: { name: string; type: unknown; nullable?: boolean }[] };
  if (schema.type !== 'struct' || !Array.isArray(schema.fields)) throw new Error(`schemaString is not a struct: ${schemaString.slice(0, 200)}`);
  return schema.fields.map((field) => {
    if (typeof field.type !== 'string' || !PRIMITIVES.has(field.type)) {
      throw new Error(`column ${field.name}: type ${JSON.stringify(field.type)} is not implemented by this test reader`);
    }
    return { name: field.name, type: field.type as SparkPrimitive, nullable: field.nullable !== false };
  });
}

/** A value as hyparquet returns it (with this reader's parsers) converted to the column's type. */
export function typedValue(field: SparkField, raw: unknown): unknown {
  if (raw === null || raw === undefined) return null;
  switch (field.type) {
    case 'long':
    case 'integer':
    case 'short':
    case 'byte':
      return integer(field, raw);
    case 'float':
    case 'double':
      return Number(raw);
    case 'timestamp':
      if (typeof raw === 'bigint') return isoFromMicros(raw); // INT64 written without a TIMESTAMP annotation
      return expectString(field, raw);
    case 'date':
      if (typeof raw === 'number') return dateFromDays(raw);
      return expectString(field, raw);
    default:
      return raw;
  }
}

/**
 * A partition value from its string form (PROTOCOL.md, "Partition Value Serialization"); an
 * empty string or null is a null value.
 */
export function partitionValue(field: SparkField, text: string | null | undefined): unknown {
  if (text === null || text === undefined || text === '') return null;
  switch (field.type) {
    case 'string':
      return text;
    case 'long':
    case 'integer':
    case 'short':
    case 'byte':
    case 'float':
    case 'double':
      return Number(text);
    case 'boolean':
      return text === 'true';
    case 'date':
      return text;
    case 'timestamp':
      // "yyyy-mm-dd hh:mm:ss[.ffffff]" is the writer's local time; this reader only accepts UTC forms.
      return isoFromMicros(BigInt(Date.parse(/[zZ]$/.test(text) ? text : `${text.replace(' ', 'T')}Z`)) * 1000n);
    default:
      throw new Error(`partition column ${field.name}: type ${field.type} is not implemented by this test reader`);
  }
}

function integer(field: SparkField, raw: unknown): number {
  const value = typeof raw === 'bigint' ? raw : BigInt(raw as number);
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new Error(`column ${field.name}: ${value} does not fit a JS number exactly`);
  }
  return Number(value);
}

function expectString(field: SparkField, raw: unknown): string {
  if (typeof raw !== 'string') throw new Error(`column ${field.name} (${field.type}): unexpected Parquet value ${String(raw)}`);
  return raw;
}

/** Microseconds since the epoch as ISO-8601 UTC; sub-millisecond digits only when there are any. */
export function isoFromMicros(micros: bigint): string {
  const millis = micros >= 0n ? micros / 1000n : -((-micros + 999n) / 1000n);
  const extra = Number(micros - millis * 1000n);
  const iso = new Date(Number(millis)).toISOString();
  return extra === 0 ? iso : `${iso.slice(0, -1)}${String(extra).padStart(3, '0')}Z`;
}

export function dateFromDays(days: number): string {
  return new Date(days * 86_400_000).toISOString().slice(0, 10);
}
