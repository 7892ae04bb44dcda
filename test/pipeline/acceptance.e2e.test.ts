import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { eventlake, eventlakeJson, tempDir, writeNdjson } from '../support/cli.js';
import { expectedFrom, ordersAsOf, superchargersAsOf, type Expected } from '../support/referenceModel.js';

/**
 * The design's acceptance scenario through the real CLI: thousands of commands with duplicates,
 * malformed lines and every rejection code; `ingest` then `run` on an empty lake; every view
 * compared with the independent reference model.
 */
const at = (minute: number) => new Date(Date.parse('2026-03-01T00:00:00Z') + minute * 60_000).toISOString();
let id = 0;
const cmd = (command_name: string, command: object, minute: number, extra: object = {}) => ({ command_id: `edge-${++id}`, command_name, received: at(minute), command, ...extra });

function edgeCases(): (object | string)[] {
  const charger = { supercharger_serial: 'EDGE-1', location_name: 'Test Site', supercharger_type: 'V4', lat: 59.9, long: 10.7 };
  const order = { order_id: 'EDGE-O1', customer_id: 'EDGE-C1', items: [{ sku: 'A', quantity: 2, unit_price: 9.5 }, { sku: 'B', quantity: 1, unit_price: 0 }] };
  return [
    cmd('RegisterSupercharger', charger, 1),
    cmd('RegisterSupercharger', charger, 2), // duplicate_aggregate
    cmd('ChangeSuperchargerStatus', { supercharger_serial: 'EDGE-1', status: 'notinuse' }, 3), // no_change
    cmd('ChangeSuperchargerStatus', { supercharger_serial: 'EDGE-1', status: 'inuse' }, 4),
    cmd('ChangeSuperchargerStatus', { supercharger_serial: 'EDGE-1', status: 'decomissioned' }, 5),
    cmd('ChangeSuperchargerStatus', { supercharger_serial: 'EDGE-1', status: 'inuse' }, 6), // invalid_transition
    cmd('ChangeSuperchargerStatus', { supercharger_serial: 'EDGE-1', status: 'decomissioned' }, 7), // no_change before the final rule
    cmd('ChangeSuperchargerStatus', { supercharger_serial: 'NOPE', status: 'inuse' }, 8), // not_found
    cmd('ChangeSuperchargerStatus', { supercharger_serial: 'EDGE-1', status: 'broken' }, 8), // schema (enum)
    cmd('RegisterSupercharger', { ...charger, supercharger_serial: 'EDGE-2', long: 181 }, 9), // schema (range)
    cmd('RegisterCustomer', { customer_id: 'EDGE-C1', customer_name: 'Edge Customer' }, 10),
    cmd('RegisterCustomer', { customer_id: 'EDGE-C1', customer_name: 'Again' }, 11), // duplicate_aggregate
    cmd('CreateOrder', order, 12),
    cmd('CreateOrder', { ...order, order_id: 'EDGE-O2', items: [] }, 12), // schema (no items)
    cmd('ChangeOrderStatus', { order_id: 'EDGE-O1', status: 'Created' }, 13), // no_change
    cmd('ChangeOrderStatus', { order_id: 'EDGE-O1', status: 'Shipped' }, 14), // invalid_transition
    cmd('ChangeOrderStatus', { order_id: 'EDGE-O1', status: 'Paid' }, 15),
    cmd('ChangeOrderStatus', { order_id: 'EDGE-O1', status: 'Shipped' }, 16),
    cmd('ChangeOrderStatus', { order_id: 'EDGE-O1', status: 'Cancelled' }, 17), // invalid_transition
    cmd('ChangeOrderStatus', { order_id: 'EDGE-O9', status: 'Paid' }, 18), // not_found
    cmd('CreateOrder', { order_id: 'EDGE-O3', customer_id: 'NO-SUCH-CUSTOMER', items: [{ sku: 'Z', quantity: 1, unit_price: 5 }] }, 19),
    cmd('LaunchRocket', {}, 20), // unknown_command
    { command_id: 'edge-no-received', command_name: 'RegisterCustomer', command: { customer_id: 'X', customer_name: 'Y' } }, // schema
    { command_name: 'RegisterCustomer', received: '2026-03-01T01:00:00', command: { customer_id: 'EDGE-C2', customer_name: 'No id, no offset' } },
    '{"command_name": "RegisterCustomer", "received": ', // torn JSON
    'null',
    '[]',
    '{}',
  ];
}

describe('acceptance scenario through the CLI', () => {
  const lake = path.join(tempDir(), 'lake');
  let lines: string[];
  let expected: Expected;
  let summary: { accepted: number; rejected: number; duplicates: number; events: number; errors: { line: number; command_id: string | null; code: string; message: string }[] };
  const query = <T = Record<string, unknown>>(sql: string) => eventlakeJson<T[]>(['--lake', lake, 'query', sql]);

  beforeAll(async () => {
    const generated = [...sampleNdjson({ count: 3000, seed: 11, stepSeconds: 37, invalidShare: 0.04 })];
    const replayed = generated.filter((_, i) => i % 61 === 0); // repeated command ids
    lines = [...generated, ...edgeCases().map((l) => (typeof l === 'string' ? l : JSON.stringify(l))), ...replayed];
    expected = expectedFrom(lines);
    const file = writeNdjson(path.join(path.dirname(lake), 'commands.ndjson'), lines);
    summary = await eventlakeJson(['--lake', lake, 'ingest', file]);
    const run = await eventlake(['--lake', lake, 'run']);
    expect(run.code, run.stderr).toBe(0);
  });

  it('counts every outcome as the reference model does', () => {
    const count = (code: string) => expected.codes.filter((c) => c === code).length;
    expect(summary.accepted).toBe(count('accepted'));
    expect(summary.duplicates).toBe(count('duplicate'));
    expect(summary.rejected).toBe(expected.codes.length - count('accepted') - count('duplicate'));
    expect(summary.events).toBe(summary.accepted);
  });

  it('reports each refused line with its line number, command id and code', () => {
    const refused = expected.codes.flatMap((code, i) => (code === 'accepted' || code === 'duplicate' ? [] : [{ line: i + 1, code }]));
    expect(summary.errors.map((e) => ({ line: e.line, code: e.code }))).toEqual(refused);
    for (const error of summary.errors) {
      const parsed = (() => { try { return JSON.parse(lines[error.line - 1]); } catch { return null; } })();
      expect(error.command_id).toBe(typeof parsed?.command_id === 'string' ? parsed.command_id : null);
      expect(error.message.length).toBeGreaterThan(5);
    }
    const codes = new Set(summary.errors.map((e) => e.code));
    for (const code of ['schema', 'unknown_command', 'duplicate_aggregate', 'not_found', 'invalid_transition', 'no_change']) expect(codes).toContain(code);
  });

  it('superchargers shows the current state of every station', async () => {
    const rows = await query<any>('SELECT * FROM superchargers ORDER BY supercharger_serial');
    expect(rows.length).toBe(expected.superchargers.size);
    for (const row of rows) {
      const e = expected.superchargers.get(row.supercharger_serial)!;
      expect(row).toMatchObject({ location_name: e.location_name, supercharger_type: e.supercharger_type, lat: e.lat, long: e.long, status: e.status, version: e.version });
      // `query --json` prints timestamps as ISO-8601 UTC, as the reference model holds them.
      expect(row.registered_at).toBe(e.registered_at);
      expect(row.status_changed_at).toBe(e.status_changed_at);
    }
  });

  it('supercharger_status_history holds one row per status held, valid_to NULL while current', async () => {
    const rows = await query<any>('SELECT * FROM supercharger_status_history');
    expect(rows.length).toBe(expected.history.length);
    const key = (serial: string, from: string) => `${serial}|${from}`;
    const want = new Map(expected.history.map((h) => [key(h.serial, h.from), h]));
    for (const row of rows) {
      const h = want.get(key(row.supercharger_serial, row.valid_from))!;
      expect(h, JSON.stringify(row)).toBeDefined();
      expect(row.status).toBe(h.status);
      expect(row.valid_to).toBe(h.to);
    }
  });

  it('superchargers_as_of answers for several points in time', async () => {
    for (const ts of ['2026-01-01 00:30:00', '2026-01-01 09:15:00', '2026-01-01 21:00:00', '2026-01-02 03:20:00', '2026-03-01 00:04:30']) {
      const rows = await query<any>(`SELECT supercharger_serial, status FROM superchargers_as_of(TIMESTAMP '${ts}')`);
      const want = superchargersAsOf(expected, ts);
      expect(new Map(rows.map((r) => [r.supercharger_serial, r.status])), ts).toEqual(want);
    }
  });

  it('daily_status_changes counts status changes per UTC day and new status', async () => {
    const rows = await query<any>('SELECT CAST(day AS VARCHAR) AS day, status, changes FROM daily_status_changes');
    expect(new Map(rows.map((r) => [`${r.day}|${r.status}`, r.changes]))).toEqual(expected.dailyChanges);
  });

  it('vw_order_summary totals each order and left-joins its customer', async () => {
    const rows = await query<any>('SELECT * FROM vw_order_summary');
    expect(rows.length).toBe(expected.orders.size);
    for (const row of rows) {
      const o = expected.orders.get(row.order_id)!;
      expect(row.status).toBe(o.status);
      expect(row.total_amount).toBeCloseTo(o.total, 6);
      expect(row.item_count).toBe(o.items);
      expect(row.customer_name).toBe(expected.customers.get(o.customer_id) ?? null);
    }
  });

  it('vw_daily_order_metrics aggregates orders per day of creation', async () => {
    const rows = await query<any>('SELECT CAST(order_date AS VARCHAR) AS d, * FROM vw_daily_order_metrics');
    const days = new Map<string, { n: number; revenue: number; customers: Set<string> }>();
    for (const o of expected.orders.values()) {
      const d = days.get(o.created.slice(0, 10)) ?? { n: 0, revenue: 0, customers: new Set() };
      d.n += 1;
      d.revenue += o.total;
      d.customers.add(o.customer_id);
      days.set(o.created.slice(0, 10), d);
    }
    expect(rows.length).toBe(days.size);
    for (const row of rows) {
      const d = days.get(row.d)!;
      expect(row.order_count).toBe(d.n);
      expect(row.total_revenue).toBeCloseTo(d.revenue, 4);
      expect(row.avg_order_value).toBeCloseTo(d.revenue / d.n, 4);
      expect(row.unique_customers).toBe(d.customers.size);
    }
  });

  it('orders_as_of answers the status each order held at a time', async () => {
    for (const ts of ['2026-01-01 06:00:00', '2026-01-02 00:00:00', '2026-03-01 00:16:30']) {
      const rows = await query<any>(`SELECT order_id, status FROM orders_as_of(TIMESTAMP '${ts}')`);
      expect(new Map(rows.map((r) => [r.order_id, r.status])), ts).toEqual(ordersAsOf(expected, ts));
    }
  });

  it('command_status records every outcome but no duplicate', async () => {
    const [row] = await query<any>("SELECT count(*) AS n, count(*) FILTER (WHERE status = 'rejected') AS rejected FROM command_status");
    expect(row.n).toBe(summary.accepted + summary.rejected);
    expect(row.rejected).toBe(summary.rejected);
    const [edge] = await query<any>("SELECT status, code, message FROM command_status WHERE command_id = 'edge-2'");
    expect(edge).toMatchObject({ status: 'rejected', code: 'duplicate_aggregate' });
  });
});
