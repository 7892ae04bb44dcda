import { describe, expect, it } from 'vitest';
import { expectedFrom, orderStatusPeriods, type Expected } from '../support/referenceModel.js';
import { scenarioFiles } from './exactTables/scenario.js';
import {
  commandStatusQuestions,
  customersQuestions,
  dailyStatusChangesQuestions,
  orderHistoryQuestions,
  ordersQuestions,
  superchargerHistoryQuestions,
  superchargersQuestions,
  type Row,
} from './exactTables/viewQuestions.js';

/**
 * The view questions of the exact-tables acceptance test can pass: tables holding exactly what
 * DESIGN.md says (rendered here from the reference model, as a correct writer would lay them out)
 * raise no problem, and each way today's merge-on-read tables go wrong is caught.
 */
const lines = scenarioFiles().flat();
const model = expectedFrom(lines);

/** The rows a correct table holds, column names as in the read models. */
function exactTables(e: Expected) {
  return {
    superchargers: [...e.superchargers].map(([supercharger_serial, s]) => ({ supercharger_serial, ...s }) as Row),
    history: e.history.map((h, i) => ({ supercharger_serial: h.serial, status: h.status, valid_from: h.from, valid_to: h.to, version: i }) as Row),
    daily: [...e.dailyChanges].map(([key, changes]) => ({ day: key.split('|')[0], status: key.split('|')[1], changes }) as Row),
    orders: [...e.orders].map(([order_id, o]) => ({ order_id, customer_id: o.customer_id, status: o.status, total_amount: o.total, item_count: o.items, created_at: o.created, updated_at: o.updated, version: o.history.length }) as Row),
    customers: [...e.customers].map(([customer_id, customer_name]) => ({ customer_id, customer_name, registered_at: e.customerRegisteredAt.get(customer_id), version: 1 }) as Row),
    orderHistory: orderStatusPeriods(e).map((p) => ({ order_id: p.order_id, status: p.status, valid_from: p.from, valid_to: p.to, version: 0 }) as Row),
  };
}

describe('the exact-tables view questions', () => {
  it('raise nothing for tables that are exactly the read models', () => {
    const t = exactTables(model);
    expect(superchargersQuestions(t.superchargers, model)).toEqual([]);
    expect(superchargerHistoryQuestions(t.history, model)).toEqual([]);
    expect(dailyStatusChangesQuestions(t.daily, model)).toEqual([]);
    expect(ordersQuestions(t.orders, model)).toEqual([]);
    expect(customersQuestions(t.customers, model)).toEqual([]);
    expect(orderHistoryQuestions(t.orderHistory, model)).toEqual([]);
  });

  it('the scenario covers what the test promises: every rejection code, duplicates, same-timestamp periods, two days', () => {
    for (const code of ['schema', 'unknown_command', 'duplicate_aggregate', 'not_found', 'invalid_transition', 'no_change', 'duplicate']) expect(model.codes).toContain(code);
    expect(model.history.some((h) => h.to === h.from)).toBe(true);
    expect(model.history.filter((h) => h.serial === 'X-S1').length).toBeGreaterThan(30);
    expect(new Set([...model.dailyChanges.keys()].map((k) => k.split('|')[0]))).toEqual(new Set(['2026-01-01', '2026-01-02']));
  });

  it('catch an older row of a key beside the current one, as merge-on-read state tables hold', () => {
    const t = exactTables(model);
    const stale = { ...t.orders[0], status: 'Created', total_amount: 1 };
    expect(ordersQuestions([...t.orders, stale], model).join('\n')).toMatch(/orders: \d+ rows for \d+ keys .* 1 extra rows of repeated keys[\s\S]*total_amount sums to/);
    expect(superchargersQuestions([...t.superchargers, t.superchargers[3]], model)[0]).toMatch(/1 extra rows of repeated keys/);
  });

  it('catch a closed period left open, in the rows and at points in time', () => {
    const t = exactTables(model);
    const index = t.history.findIndex((r) => r.supercharger_serial === 'X-S1' && r.valid_to !== null);
    t.history[index] = { ...t.history[index], valid_to: null };
    const problems = superchargerHistoryQuestions(t.history, model).join('\n');
    expect(problems).toMatch(/with valid_to NULL/);
    expect(problems).toMatch(/1 rows not in the model/);
    expect(problems).toMatch(/point in time .* wrong at/);
  });

  it('catch an aggregate split into partial rows', () => {
    const t = exactTables(model);
    const [first, ...rest] = t.daily;
    const split = [{ ...first, changes: 1 }, { ...first, changes: Number(first.changes) - 1 }, ...rest];
    expect(dailyStatusChangesQuestions(split, model)[0]).toMatch(/1 extra rows of repeated keys/);
  });

  it('check command_status against the recorded outcomes', () => {
    const outcomes = [
      { commandId: 'a', commandName: 'RegisterCustomer', code: 'accepted', received: '2026-01-01T00:00:00.000Z' },
      { commandId: 'b', commandName: 'LaunchRocket', code: 'unknown_command', received: '2026-01-01T00:00:00.000Z' },
    ];
    const rows = [
      { command_id: 'a', command_name: 'RegisterCustomer', status: 'completed', code: null, event_count: 1, received: '2026-01-01T00:00:00.000Z' },
      { command_id: 'b', command_name: 'LaunchRocket', status: 'rejected', code: 'unknown_command', event_count: 0, received: '2026-01-01T00:00:00.000Z' },
    ];
    expect(commandStatusQuestions(rows, outcomes)).toEqual([]);
    expect(commandStatusQuestions([rows[0], rows[1], rows[1]], outcomes)[0]).toMatch(/3 rows for 2 recorded commands \(1 repeated/);
    expect(commandStatusQuestions([rows[0], { ...rows[1], code: 'schema' }], outcomes)[0]).toMatch(/1 of 2 commands missing or answered differently/);
  });
});
