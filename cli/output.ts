import type { QueryResult } from '../views/query.js';

/** Rows as an aligned text table, the default for people at a terminal. */
export function formatTable({ columns, rows }: QueryResult): string {
  const header = columns.map((c) => c.name);
  const body = rows.map((row) => header.map((name) => cellText(displayValue(row[name]))));
  const widths = header.map((name, i) => Math.max(name.length, ...body.map((r) => r[i].length)));
  const numeric = columns.map((c) => /INT|DECIMAL|DOUBLE|FLOAT|REAL/.test(c.type));
  const line = (cells: string[]) => cells.map((cell, i) => (numeric[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const count = `(${rows.length} row${rows.length === 1 ? '' : 's'})`;
  return [line(header), rule, ...body.map(line), count].join('\n');
}

/** RFC 4180 CSV with a header line. */
export function formatCsv({ columns, rows }: QueryResult): string {
  const header = columns.map((c) => csvCell(c.name));
  const body = rows.map((row) => columns.map((c) => csvCell(row[c.name] === null || row[c.name] === undefined ? '' : cellText(row[c.name]))));
  return [header, ...body].map((cells) => cells.join(',')).join('\n');
}

/** Floats shown to 12 significant digits: 354484.45, not 354484.44999999984 (JSON/CSV keep all). */
function displayValue(value: unknown): unknown {
  return typeof value === 'number' && !Number.isInteger(value) ? Number(value.toPrecision(12)) : value;
}

function cellText(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function csvCell(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
