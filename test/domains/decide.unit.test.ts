import { describe, expect, it } from 'vitest';
import type { CommandHandler } from '../../domains/domain.js';
import { ordersDomain } from '../../domains/orders.js';
import { superchargersDomain } from '../../domains/superchargers.js';

const handler = (name: string): CommandHandler => [...superchargersDomain.commands, ...ordersDomain.commands].find((c) => c.commandName === name)!;
const outcome = (name: string, state: unknown, command: object) => {
  const result = handler(name).decide(state, command as Record<string, unknown>);
  return Array.isArray(result) ? result.map((e) => e.eventType) : result.code;
};

describe('supercharger decisions', () => {
  const change = (from: string | undefined, to: string) => outcome('ChangeSuperchargerStatus', from && { status: from }, { supercharger_serial: 's', status: to });
  it('the same status again is no_change, even when decomissioned', () => {
    expect(change('inuse', 'inuse')).toBe('no_change');
    expect(change('decomissioned', 'decomissioned')).toBe('no_change');
  });
  it('decomissioned is final', () => expect(change('decomissioned', 'inuse')).toBe('invalid_transition'));
  it('an unknown serial is not_found', () => expect(change(undefined, 'inuse')).toBe('not_found'));
  it('any other move is allowed', () => {
    for (const [from, to] of [['notinuse', 'inuse'], ['inuse', 'serviced'], ['serviced', 'decomissioned'], ['serviced', 'notinuse']]) expect(change(from, to)).toEqual(['SuperchargerStatusChanged']);
  });
  it('registering an existing serial is duplicate_aggregate', () => expect(outcome('RegisterSupercharger', { status: 'inuse' }, {})).toBe('duplicate_aggregate'));
});

describe('order decisions', () => {
  const change = (from: string | undefined, to: string) => outcome('ChangeOrderStatus', from && { status: from }, { order_id: 'o', status: to });
  it.each([
    ['Created', 'Paid', ['OrderStatusChanged']],
    ['Created', 'Cancelled', ['OrderStatusChanged']],
    ['Paid', 'Shipped', ['OrderStatusChanged']],
    ['Paid', 'Cancelled', ['OrderStatusChanged']],
    ['Shipped', 'Delivered', ['OrderStatusChanged']],
    ['Created', 'Shipped', 'invalid_transition'],
    ['Shipped', 'Cancelled', 'invalid_transition'],
    ['Delivered', 'Paid', 'invalid_transition'],
    ['Cancelled', 'Paid', 'invalid_transition'],
    ['Delivered', 'Delivered', 'no_change'],
    ['Cancelled', 'Cancelled', 'no_change'],
  ])('%s -> %s gives %s', (from, to, expected) => expect(change(from, to)).toEqual(expected));
  it('an unknown order is not_found', () => expect(change(undefined, 'Paid')).toBe('not_found'));
  it('creating an existing order is duplicate_aggregate', () => expect(outcome('CreateOrder', { status: 'Created' }, { order_id: 'o' })).toBe('duplicate_aggregate'));
});
