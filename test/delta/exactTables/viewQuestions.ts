import { orderStatusPeriods, ordersAsOf, superchargersAsOf, type Expected } from '../../support/referenceModel.js';

/**
 * The view questions of DESIGN.md, asked of a table's rows as a Delta reader returns them (no
 * eventlake code, no view in between) and answered by the reference model. Each returns the
 * problems it found, worded with the numbers, so that one failing run tells the whole story.
 */
export type Row = Record<string, unknown>;

/** Moments for the point-in-time questions: ISO UTC instants, some on an event's exact timestamp. */
export const POINTS_IN_TIME = ['2026-01-01T00:31:00.000Z', '2026-01-01T01:00:00.000Z', '2026-01-01T03:30:00.000Z', '2026-01-01T06:40:00.000Z', '2026-01-01T09:10:30.000Z', '2026-01-01T13:00:00.000Z', '2026-01-01T23:59:30.000Z', '2026-01-02T00:00:00.000Z'];

const sample = (items: unknown[]) => items.slice(0, 3).map((i) => JSON.stringify(i)).join('; ');
const near = (a: unknown, b: number) => typeof a === 'number' && Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));

/** One row per key: returns the rows by key, and a problem when any key has several. */
function byKey(table: string, rows: Row[], key: (r: Row) => string, expectedKeys: number, problems: string[]): Map<string, Row> {
  const map = new Map<string, Row>();
  let repeated = 0;
  for (const row of rows) {
    if (map.has(key(row))) repeated++;
    map.set(key(row), row);
  }
  if (rows.length !== expectedKeys || repeated > 0) {
    problems.push(`${table}: ${rows.length} rows for ${expectedKeys} keys of the model (${map.size} distinct keys in the table, ${repeated} extra rows of repeated keys)`);
  }
  return map;
}

function compareRows(table: string, want: Map<string, Row>, have: Map<string, Row>, same: (h: Row, w: Row) => boolean, problems: string[]): void {
  const missing = [...want.keys()].filter((k) => !have.has(k));
  const extra = [...have.keys()].filter((k) => !want.has(k));
  const differ = [...want].filter(([k, w]) => have.has(k) && !same(have.get(k)!, w));
  if (missing.length) problems.push(`${table}: ${missing.length} keys of the model missing, e.g. ${sample(missing)}`);
  if (extra.length) problems.push(`${table}: ${extra.length} keys not in the model, e.g. ${sample(extra)}`);
  if (differ.length) problems.push(`${table}: ${differ.length} of ${want.size} rows differ from the model, e.g. table ${sample(differ.map(([k]) => have.get(k)))} vs model ${sample(differ.map(([, w]) => w))}`);
}

export function superchargersQuestions(rows: Row[], e: Expected): string[] {
  const problems: string[] = [];
  const have = byKey('superchargers', rows, (r) => String(r.supercharger_serial), e.superchargers.size, problems);
  const want = new Map([...e.superchargers].map(([serial, s]) => [serial, { supercharger_serial: serial, ...s } as Row]));
  compareRows('superchargers', want, have, (h, w) => Object.keys(w).every((c) => h[c] === w[c]), problems);
  return problems;
}

interface Period {
  key: string;
  status: string;
  from: string;
  to: string | null;
}

/** A history table: one row per period, valid_to on every closed one, and the point-in-time filter. */
function historyQuestions(table: string, keyColumn: string, rows: Row[], want: Period[], asOf: (ts: string) => Map<string, string>): string[] {
  const problems: string[] = [];
  const have: Period[] = rows.map((r) => ({ key: String(r[keyColumn]), status: String(r.status), from: String(r.valid_from), to: r.valid_to === null ? null : String(r.valid_to) }));
  const open = have.filter((p) => p.to === null).length;
  const wantOpen = want.filter((p) => p.to === null).length;
  if (have.length !== want.length || open !== wantOpen) {
    problems.push(`${table}: ${have.length} rows (${open} with valid_to NULL), the model has ${want.length} periods (${wantOpen} current, one per key)`);
  }
  const text = (p: Period) => `${p.key}|${p.status}|${p.from}|${p.to}`;
  const counts = new Map<string, number>();
  for (const p of want) counts.set(text(p), (counts.get(text(p)) ?? 0) + 1);
  const unexpected: string[] = [];
  for (const p of have) {
    const n = counts.get(text(p)) ?? 0;
    if (n === 0) unexpected.push(text(p));
    else counts.set(text(p), n - 1);
  }
  const missing = [...counts].flatMap(([t, n]) => Array<string>(n).fill(t));
  if (unexpected.length || missing.length) {
    problems.push(`${table}: ${unexpected.length} rows not in the model (e.g. ${sample(unexpected)}), ${missing.length} periods of the model missing (e.g. ${sample(missing)})`);
  }
  const wrongTimes: string[] = [];
  for (const ts of POINTS_IN_TIME) {
    const valid = have.filter((p) => p.from <= ts && (p.to === null || ts < p.to));
    const answer = new Map(valid.map((p) => [p.key, p.status]));
    const expected = asOf(ts);
    const wrong = [...expected].filter(([k, s]) => answer.get(k) !== s).length + [...answer.keys()].filter((k) => !expected.has(k)).length;
    if (valid.length !== expected.size || wrong > 0) wrongTimes.push(`${ts}: ${valid.length} valid rows for ${expected.size} keys of the model (${wrong} keys answer differently)`);
  }
  if (wrongTimes.length) problems.push(`${table} point in time (valid_from <= ts AND (valid_to IS NULL OR ts < valid_to)) wrong at ${wrongTimes.length} of ${POINTS_IN_TIME.length} times: ${wrongTimes.join('; ')}`);
  return problems;
}

export function superchargerHistoryQuestions(rows: Row[], e: Expected): string[] {
  const want = e.history.map((h) => ({ key: h.serial, status: h.status, from: h.from, to: h.to }));
  return historyQuestions('supercharger_status_history', 'supercharger_serial', rows, want, (ts) => superchargersAsOf(e, ts));
}

export function orderHistoryQuestions(rows: Row[], e: Expected): string[] {
  const want = orderStatusPeriods(e).map((p) => ({ key: p.order_id, status: p.status, from: p.from, to: p.to }));
  return historyQuestions('order_status_history', 'order_id', rows, want, (ts) => ordersAsOf(e, ts));
}

export function dailyStatusChangesQuestions(rows: Row[], e: Expected): string[] {
  const problems: string[] = [];
  const have = byKey('daily_status_changes', rows, (r) => `${r.day}|${r.status}`, e.dailyChanges.size, problems);
  const want = new Map([...e.dailyChanges].map(([k, changes]) => [k, { changes } as Row]));
  compareRows('daily_status_changes', want, have, (h, w) => h.changes === w.changes, problems);
  const total = rows.reduce((sum, r) => sum + Number(r.changes), 0);
  const wantTotal = [...e.dailyChanges.values()].reduce((a, b) => a + b, 0);
  if (total !== wantTotal) problems.push(`daily_status_changes: the changes column sums to ${total}, the model counts ${wantTotal} status changes`);
  return problems;
}

export function ordersQuestions(rows: Row[], e: Expected): string[] {
  const problems: string[] = [];
  const have = byKey('orders', rows, (r) => String(r.order_id), e.orders.size, problems);
  const want = new Map([...e.orders].map(([id, o]) => [id, { customer_id: o.customer_id, status: o.status, total_amount: o.total, item_count: o.items, created_at: o.created, updated_at: o.updated } as Row]));
  compareRows('orders', want, have, (h, w) => near(h.total_amount, w.total_amount as number) && ['customer_id', 'status', 'item_count', 'created_at', 'updated_at'].every((c) => h[c] === w[c]), problems);
  const revenue = rows.reduce((sum, r) => sum + Number(r.total_amount), 0);
  const wantRevenue = [...e.orders.values()].reduce((sum, o) => sum + o.total, 0);
  if (!near(revenue, wantRevenue)) problems.push(`orders: total_amount sums to ${revenue.toFixed(2)}, the model's revenue is ${wantRevenue.toFixed(2)}`);
  return problems;
}

export function customersQuestions(rows: Row[], e: Expected): string[] {
  const problems: string[] = [];
  const have = byKey('customers', rows, (r) => String(r.customer_id), e.customers.size, problems);
  const want = new Map([...e.customers].map(([id, name]) => [id, { customer_name: name, registered_at: e.customerRegisteredAt.get(id) } as Row]));
  compareRows('customers', want, have, (h, w) => h.customer_name === w.customer_name && h.registered_at === w.registered_at, problems);
  return problems;
}

/**
 * command_status: one row per command the log recorded (the first `recorded` outcomes, duplicates
 * never recorded), completed or rejected with the reference model's code.
 */
export function commandStatusQuestions(rows: Row[], outcomes: { commandId: string | null; code: string; received: string | null; commandName: string | null }[]): string[] {
  const problems: string[] = [];
  const withIds = outcomes.filter((o) => o.commandId !== null);
  const have = new Map<string, Row>();
  let repeated = 0;
  for (const row of rows) {
    if (have.has(String(row.command_id))) repeated++;
    have.set(String(row.command_id), row);
  }
  if (rows.length !== outcomes.length || repeated > 0) problems.push(`command_status: ${rows.length} rows for ${outcomes.length} recorded commands (${repeated} repeated command ids)`);
  const wrong = withIds.filter((o) => {
    const row = have.get(o.commandId!);
    if (!row) return true;
    const accepted = o.code === 'accepted';
    return row.status !== (accepted ? 'completed' : 'rejected') || row.code !== (accepted ? null : o.code) || row.event_count !== (accepted ? 1 : 0) || (accepted && (row.received !== o.received || row.command_name !== o.commandName));
  });
  if (wrong.length) problems.push(`command_status: ${wrong.length} of ${withIds.length} commands missing or answered differently, e.g. ${sample(wrong.map((o) => [o, have.get(o.commandId!)]))}`);
  return problems;
}
