// Compiled (never run) by typedApi.int.test.ts next to the init template's domain, against the
// built package types: what must compile does, and each @ts-expect-error must be an error.
import { deciderSpec, domainOf, projectionRows, type CommandPayload, type Event, type GivenEvent, type StateOf } from 'eventlake';
import bank, { deposit, type BankEvent } from '../src/bank.js';

export const payload: CommandPayload<typeof deposit> = { account_id: 'a', amount: 1 };
// @ts-expect-error the amount is a number
export const wrongPayload: CommandPayload<typeof deposit> = { account_id: 'a', amount: 'x' };

const spec = deciderSpec(bank);
spec.given([]).when('Deposit', { account_id: 'A', amount: 1 });
// @ts-expect-error no such command
spec.given([]).when('Depositt', { account_id: 'A', amount: 1 });
// @ts-expect-error a required field is missing
spec.given([]).when('Deposit', { account_id: 'A' });
// @ts-expect-error given events are the domain's
spec.given([{ eventType: 'AccountClosed', data: {} }]);

type E = Event<'Opened', { id: string }> | Event<'Renamed', { id: string; name: string }>;
const d = domainOf<E>();
const thing = d.aggregate({ aggregateType: 'thing', rejections: ['frozen'], evolve: (_s: { n: number } | undefined, e) => ({ n: e.eventType === 'Opened' ? 0 : 1 }) });
export const state: StateOf<typeof thing> = { n: 1 };

export const rename = thing.command({
  commandName: 'Rename',
  schema: { type: 'object', additionalProperties: false, required: ['id', 'name'], properties: { id: { type: 'string' }, name: { type: 'string', maxLength: 10 }, note: { type: 'string' } } },
  aggregateId: (c) => c.id,
  decide(s, c) {
    const note: string | undefined = c.note;
    if (!s) return { code: 'not_found', message: note ?? c.id };
    if (s.n > 5) return { code: 'frozen', message: 'frozen' };
    return [{ eventType: 'Renamed', data: { id: c.id, name: c.name } }];
  },
});

// A decision's mistakes are reported on `decide` as a whole (its return type is inferred, then checked).
thing.command({
  commandName: 'Melt',
  schema: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
  aggregateId: (c) => c.id,
  // @ts-expect-error a code the aggregate does not declare
  decide: () => ({ code: 'melted', message: 'no' }),
});
thing.command({
  commandName: 'Delete',
  schema: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
  aggregateId: (c) => c.id,
  // @ts-expect-error an event the domain does not have
  decide: (_s, c) => [{ eventType: 'Deleted', data: { id: c.id } }],
});
thing.command({
  commandName: 'Rename2',
  schema: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
  aggregateId: (c) => c.id,
  // @ts-expect-error the event's data is checked
  decide: (_s, c) => [{ eventType: 'Renamed', data: { id: c.id } }],
});

export const names = d.stateProjection({
  name: 'names',
  version: 1,
  description: 'names',
  eventTypes: ['Renamed'],
  columns: [{ name: 'id', type: 'VARCHAR' }, { name: 'name', type: 'VARCHAR' }, { name: 'renames', type: 'BIGINT' }],
  key: 'id',
  orderBy: 'id',
  keyOf: (e) => e.data.id,
  evolve(row, e) {
    // @ts-expect-error eventTypes narrows the events: Opened is not read here
    if (e.eventType === 'Opened') return {};
    const renames: number | null | undefined = row?.renames;
    return { id: e.data.id, name: e.data.name, renames: (renames ?? 0) + 1 };
  },
});

d.stateProjection({
  name: 'wrong',
  version: 1,
  description: 'a value of the wrong type, reported on evolve as a whole',
  columns: [{ name: 'id', type: 'VARCHAR' }, { name: 'renames', type: 'BIGINT' }],
  key: 'id',
  orderBy: 'id',
  keyOf: (e) => e.data.id,
  // @ts-expect-error a column's value has its column's type
  evolve: (_row, e) => ({ id: e.data.id, renames: 'seven' }),
});

d.stateProjection({
  name: 'unkeyable',
  version: 1,
  description: 'a key column whose values have more than one text form',
  columns: [{ name: 'at', type: 'TIMESTAMPTZ' }, { name: 'n', type: 'BIGINT' }],
  // @ts-expect-error a state key is a VARCHAR, BIGINT, INTEGER or DATE column
  key: 'at',
  orderBy: 'n',
  keyOf: (e) => e.timestamp,
  evolve: (_row, e) => ({ at: e.timestamp, n: 1 }),
});

d.stateProjection({
  name: 'typo',
  version: 1,
  description: 'a misspelt column, reported at its name',
  columns: [{ name: 'id', type: 'VARCHAR' }, { name: 'name', type: 'VARCHAR' }],
  key: 'id',
  orderBy: 'id',
  keyOf: (e) => e.data.id,
  evolve: (_row, e) => ({
    id: e.data.id,
    // @ts-expect-error not a column
    nmae: e.eventType,
  }),
});

d.historyProjection({
  name: 'periods',
  version: 1,
  description: 'a history does not set its own valid_to',
  columns: [{ name: 'id', type: 'VARCHAR' }, { name: 'valid_from', type: 'TIMESTAMPTZ' }, { name: 'valid_to', type: 'TIMESTAMPTZ' }],
  validity: { key: 'id', orderBy: 'valid_from', from: 'valid_from', to: 'valid_to' },
  rows: (e) => [
    {
      id: e.data.id,
      valid_from: e.timestamp,
      // @ts-expect-error the pipeline sets valid_to when the next row closes the period
      valid_to: e.timestamp,
    },
  ],
});

d.sqlProjection({
  name: 'x',
  version: 1,
  description: 'x',
  columns: [{ name: 'day', type: 'DATE' }, { name: 'n', type: 'BIGINT' }],
  sql: 'SELECT 1',
  // @ts-expect-error merge keys are column names
  merge: { kind: 'combine', key: ['dya'], columns: { n: 'count' } },
});

const given: GivenEvent<BankEvent>[] = [{ aggregateType: 'account', aggregateId: 'A', eventType: 'AccountOpened', data: { account_id: 'A', owner: 'Ada' } }];
export const rows = projectionRows(names, given);
