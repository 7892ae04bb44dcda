import { domainOf, type Event } from 'eventlake';

/**
 * Bank accounts: opened once, then money in and out; a withdrawal larger than the balance is
 * refused with a code of this domain's own. Money events carry the balance after them, so a
 * projection needs no running total.
 */
export type BankEvent =
  | Event<'AccountOpened', { account_id: string; owner: string }>
  | Event<'MoneyDeposited', { account_id: string; amount: number; balance: number }>
  | Event<'MoneyWithdrawn', { account_id: string; amount: number; balance: number }>;

interface Account {
  balance: number;
}

const bank = domainOf<BankEvent>();

const account = bank.aggregate({
  aggregateType: 'account',
  rejections: ['insufficient_funds'],
  evolve: (_state: Account | undefined, event): Account => ({ balance: event.eventType === 'AccountOpened' ? 0 : event.data.balance }),
});

const accountId = { type: 'string', minLength: 1, maxLength: 100 } as const;
const amount = { type: 'number', exclusiveMinimum: 0, maximum: 1_000_000 } as const;

export const openAccount = account.command({
  commandName: 'OpenAccount',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['account_id', 'owner'],
    properties: { account_id: accountId, owner: { type: 'string', minLength: 1, maxLength: 200 } },
  },
  aggregateId: (c) => c.account_id,
  decide(state, c) {
    if (state) return { code: 'duplicate_aggregate', message: `account ${c.account_id} is already open`, path: '/command/account_id' };
    return [{ eventType: 'AccountOpened', data: { account_id: c.account_id, owner: c.owner } }];
  },
});

export const deposit = account.command({
  commandName: 'Deposit',
  schema: { type: 'object', additionalProperties: false, required: ['account_id', 'amount'], properties: { account_id: accountId, amount } },
  aggregateId: (c) => c.account_id,
  decide(state, c) {
    if (!state) return { code: 'not_found', message: `no account ${c.account_id}`, path: '/command/account_id' };
    return [{ eventType: 'MoneyDeposited', data: { account_id: c.account_id, amount: c.amount, balance: state.balance + c.amount } }];
  },
});

export const withdraw = account.command({
  commandName: 'Withdraw',
  schema: { type: 'object', additionalProperties: false, required: ['account_id', 'amount'], properties: { account_id: accountId, amount } },
  aggregateId: (c) => c.account_id,
  decide(state, c) {
    if (!state) return { code: 'not_found', message: `no account ${c.account_id}`, path: '/command/account_id' };
    if (c.amount > state.balance) return { code: 'insufficient_funds', message: `account ${c.account_id} holds ${state.balance}, less than ${c.amount}`, path: '/command/amount' };
    return [{ eventType: 'MoneyWithdrawn', data: { account_id: c.account_id, amount: c.amount, balance: state.balance - c.amount } }];
  },
});

/** Current state: one row per account. */
export const accounts = bank.stateProjection({
  name: 'accounts',
  version: 1,
  description: 'Every account with its balance now',
  eventTypes: ['AccountOpened', 'MoneyDeposited', 'MoneyWithdrawn'],
  columns: [
    { name: 'account_id', type: 'VARCHAR' },
    { name: 'owner', type: 'VARCHAR' },
    { name: 'balance', type: 'DOUBLE' },
    { name: 'opened_at', type: 'TIMESTAMPTZ' },
    { name: 'updated_at', type: 'TIMESTAMPTZ' },
    { name: 'version', type: 'BIGINT' },
  ],
  key: 'account_id',
  orderBy: 'version',
  keyOf: (e) => e.aggregateId,
  evolve(row, e) {
    if (e.eventType === 'AccountOpened') {
      return { account_id: e.aggregateId, owner: e.data.owner, balance: 0, opened_at: e.timestamp, updated_at: e.timestamp, version: e.version };
    }
    return { ...row, balance: e.data.balance, updated_at: e.timestamp, version: e.version };
  },
});

/** History: one row per balance an account held, valid from valid_from until valid_to (NULL while current). */
export const balanceHistory = bank.historyProjection({
  name: 'account_balances',
  version: 1,
  description: 'Every balance an account held, with its validity interval',
  eventTypes: ['AccountOpened', 'MoneyDeposited', 'MoneyWithdrawn'],
  columns: [
    { name: 'account_id', type: 'VARCHAR' },
    { name: 'balance', type: 'DOUBLE' },
    { name: 'valid_from', type: 'TIMESTAMPTZ' },
    { name: 'version', type: 'BIGINT' },
    { name: 'valid_to', type: 'TIMESTAMPTZ' },
  ],
  validity: { key: 'account_id', orderBy: 'version', from: 'valid_from', to: 'valid_to' },
  rows: (e) => [{ account_id: e.aggregateId, balance: e.eventType === 'AccountOpened' ? 0 : e.data.balance, valid_from: e.timestamp, version: e.version }],
});

export default bank.define({
  name: 'bank',
  aggregates: [account],
  commands: [openAccount, deposit, withdraw],
  projections: [accounts, balanceHistory],
  sqlFile: new URL('./bank.sql', import.meta.url),
});
