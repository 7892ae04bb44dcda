import type { SparkField } from './sparkSchema.js';

/**
 * Checks a file's statistics against its rows (PROTOCOL.md, "Per-file Statistics"): engines
 * skip files and answer counts from them, so stats that lie give wrong answers even when the rows
 * are right. `numRecords` is the physical row count; minValues/maxValues bound every valid value
 * (timestamps at millisecond precision, strings may be cut to a prefix); nullCount is exact for a
 * file without a deletion vector, and with tightBounds=false only its two special cases count.
 */
export function verifyFileStats(where: string, statsJson: string | null | undefined, fields: SparkField[], physical: Record<string, unknown>[], valid: boolean[], hasDeletionVector: boolean): void {
  if (!statsJson) return;
  const stats = JSON.parse(statsJson) as { numRecords?: number; tightBounds?: boolean; minValues?: Record<string, unknown>; maxValues?: Record<string, unknown>; nullCount?: Record<string, unknown> };
  if (stats.numRecords !== undefined && Number(stats.numRecords) !== physical.length) {
    throw new Error(`${where}: stats say numRecords ${stats.numRecords}, the file has ${physical.length} row(s)`);
  }
  const tight = stats.tightBounds !== false;
  for (const field of fields) {
    const values = physical.filter((_, i) => valid[i]).map((row) => row[field.name]);
    const present = values.filter((v) => v !== null && v !== undefined);
    checkBound(where, field, stats.minValues?.[field.name], present, 'min');
    checkBound(where, field, stats.maxValues?.[field.name], present, 'max');
    const nullCount = stats.nullCount?.[field.name];
    if (typeof nullCount !== 'number') continue;
    const nulls = values.length - present.length;
    if (tight && !hasDeletionVector && nullCount !== nulls) throw new Error(`${where}: stats say nullCount ${nullCount} for ${field.name}, the file has ${nulls}`);
    if (nullCount === physical.length && present.length > 0) throw new Error(`${where}: stats say ${field.name} is all null, but valid rows have values`);
    if (nullCount === 0 && nulls > 0) throw new Error(`${where}: stats say ${field.name} has no null, but ${nulls} valid row(s) do`);
  }
}

function checkBound(where: string, field: SparkField, bound: unknown, values: unknown[], side: 'min' | 'max'): void {
  if (bound === undefined || bound === null || values.length === 0) return;
  const compare = comparator(field);
  if (!compare) return;
  const outside = values.find((value) => (side === 'min' ? compare(value, bound) < 0 : compare(value, bound) > 0));
  if (outside !== undefined) throw new Error(`${where}: stats say ${side}Values.${field.name} = ${JSON.stringify(bound)}, but a valid row holds ${JSON.stringify(outside)}`);
}

/** value vs stat: negative when the value is below the stat. */
function comparator(field: SparkField): ((value: unknown, stat: unknown) => number) | null {
  switch (field.type) {
    case 'long':
    case 'integer':
    case 'short':
    case 'byte':
    case 'float':
    case 'double':
      return (value, stat) => Number(value) - Number(stat);
    case 'date':
      return (value, stat) => (String(value) < String(stat) ? -1 : String(value) > String(stat) ? 1 : 0);
    case 'timestamp':
      return (value, stat) => millis(String(value)) - Date.parse(String(stat));
    case 'string':
      // Spark orders strings by their UTF-8 bytes; a cut max is bumped so that it still bounds.
      return (value, stat) => Buffer.compare(Buffer.from(String(value)), Buffer.from(String(stat)));
    default:
      return null;
  }
}

/** An ISO timestamp truncated to milliseconds, as stats hold them. */
function millis(iso: string): number {
  return Date.parse(iso.replace(/(\.\d{3})\d+Z$/, '$1Z'));
}
