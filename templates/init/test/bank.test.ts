import { describe, expect, it } from 'vitest';
import { deciderSpec, projectionRows, readModelsAfter, viewRows, type GivenEvent } from 'eventlake';
import bank, { accounts, balanceHistory, type BankEvent } from '../src/bank.js';

const opened: BankEvent = { eventType: 'AccountOpened', data: { account_id: 'A1', owner: 'Ada' } };
const deposited: BankEvent = { eventType: 'MoneyDeposited', data: { account_id: 'A1', amount: 100, balance: 100 } };

describe('bank decisions', () => {
  const spec = deciderSpec(bank);

  it('opens an account once', () => {
    spec.given([]).when('OpenAccount', { account_id: 'A1', owner: 'Ada' }).thenEvents([opened]);
    spec.given([opened]).when('OpenAccount', { account_id: 'A1', owner: 'Bob' }).thenRejected('duplicate_aggregate');
  });

  it('withdraws what the balance holds, not more', () => {
    spec.given([opened, deposited]).when('Withdraw', { account_id: 'A1', amount: 30 }).thenEvents([{ eventType: 'MoneyWithdrawn', data: { account_id: 'A1', amount: 30, balance: 70 } }]);
    spec.given([opened, deposited]).when('Withdraw', { account_id: 'A1', amount: 130 }).thenRejected('insufficient_funds', { path: '/command/amount' });
  });

  it('refuses a payload its schema refuses, as the ingester does', () => {
    spec.given([opened]).when('Deposit', { account_id: 'A1', amount: -5 }).thenRejected('schema', { path: '/command/amount' });
  });
});

const history: GivenEvent<BankEvent>[] = [
  { aggregateType: 'account', aggregateId: 'A1', timestamp: '2026-01-01T08:00:00Z', ...opened },
  { aggregateType: 'account', aggregateId: 'A1', timestamp: '2026-01-01T09:00:00Z', ...deposited },
  { aggregateType: 'account', aggregateId: 'A1', timestamp: '2026-01-01T10:00:00Z', eventType: 'MoneyWithdrawn', data: { account_id: 'A1', amount: 30, balance: 70 } },
];

describe('bank read models', () => {
  it('accounts holds one row per account, as it is now', async () => {
    expect(await projectionRows(accounts, history)).toEqual([
      { account_id: 'A1', owner: 'Ada', balance: 70, opened_at: '2026-01-01T08:00:00.000Z', updated_at: '2026-01-01T10:00:00.000Z', version: 3 },
    ]);
  });

  it('account_balances holds one row per balance held, closed rows with their valid_to', async () => {
    expect(await projectionRows(balanceHistory, history)).toEqual([
      { account_id: 'A1', balance: 0, valid_from: '2026-01-01T08:00:00.000Z', version: 1, valid_to: '2026-01-01T09:00:00.000Z' },
      { account_id: 'A1', balance: 100, valid_from: '2026-01-01T09:00:00.000Z', version: 2, valid_to: '2026-01-01T10:00:00.000Z' },
      { account_id: 'A1', balance: 70, valid_from: '2026-01-01T10:00:00.000Z', version: 3, valid_to: null },
    ]);
  });

  it('accounts_as_of answers the balance held at a time', async () => {
    const models = await readModelsAfter(bank, history);
    expect(await viewRows(bank, models, "SELECT account_id, balance FROM accounts_as_of(TIMESTAMP '2026-01-01 09:30')")).toEqual([{ account_id: 'A1', balance: 100 }]);
    expect(await viewRows(bank, models, "SELECT account_id, balance FROM accounts_as_of(TIMESTAMP '2026-01-01 07:00')")).toEqual([]);
  });
});
