import { domainOf, statusTransition, type Event } from '../api/index.js';

/** Charging stations: registered once, then moved between statuses until decomissioned (final). */
export const SUPERCHARGER_STATUSES = ['inuse', 'notinuse', 'serviced', 'decomissioned'] as const;
type Status = (typeof SUPERCHARGER_STATUSES)[number];

export type SuperchargerEvent =
  | Event<'SuperchargerRegistered', { supercharger_serial: string; location_name: string; supercharger_type: string; lat: number; long: number; status: 'notinuse' }>
  | Event<'SuperchargerStatusChanged', { supercharger_serial: string; from: Status; to: Status }>;

interface SuperchargerState {
  status: Status;
}

// Every status may move to every other, except out of decomissioned.
const ALLOWED: Record<Status, readonly Status[]> = {
  inuse: ['notinuse', 'serviced', 'decomissioned'],
  notinuse: ['inuse', 'serviced', 'decomissioned'],
  serviced: ['inuse', 'notinuse', 'decomissioned'],
  decomissioned: [],
};

const serial = { type: 'string', minLength: 1, maxLength: 200 } as const;

const superchargers = domainOf<SuperchargerEvent>();

const supercharger = superchargers.aggregate({
  aggregateType: 'supercharger',
  evolve: (state: SuperchargerState | undefined, event): SuperchargerState =>
    event.eventType === 'SuperchargerRegistered' ? { status: 'notinuse' } : { ...state, status: event.data.to },
});

const register = supercharger.command({
  commandName: 'RegisterSupercharger',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['supercharger_serial', 'location_name', 'supercharger_type', 'lat', 'long'],
    properties: {
      supercharger_serial: serial,
      location_name: { type: 'string', minLength: 1, maxLength: 500 },
      supercharger_type: { type: 'string', minLength: 1, maxLength: 200 },
      lat: { type: 'number', minimum: -90, maximum: 90 },
      long: { type: 'number', minimum: -180, maximum: 180 },
    },
  },
  aggregateId: (c) => c.supercharger_serial,
  decide(state, c) {
    if (state) return { code: 'duplicate_aggregate', message: `supercharger ${c.supercharger_serial} is already registered`, path: '/command/supercharger_serial' };
    const { supercharger_serial, location_name, supercharger_type, lat, long } = c;
    return [{ eventType: 'SuperchargerRegistered', data: { supercharger_serial, location_name, supercharger_type, lat, long, status: 'notinuse' } }];
  },
});

const changeStatus = supercharger.command({
  commandName: 'ChangeSuperchargerStatus',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['supercharger_serial', 'status'],
    properties: { supercharger_serial: serial, status: { enum: [...SUPERCHARGER_STATUSES] } },
  },
  aggregateId: (c) => c.supercharger_serial,
  decide(state, c) {
    const id = c.supercharger_serial;
    if (!state) return { code: 'not_found', message: `supercharger ${id} is not registered`, path: '/command/supercharger_serial' };
    const refused = statusTransition('supercharger', id, state.status, c.status, ALLOWED);
    if (refused) return refused;
    return [{ eventType: 'SuperchargerStatusChanged', data: { supercharger_serial: id, from: state.status, to: c.status } }];
  },
});

const superchargerState = superchargers.stateProjection({
  name: 'superchargers',
  eventTypes: ['SuperchargerRegistered', 'SuperchargerStatusChanged'],
  version: 2,
  description: 'Current state of every supercharger',
  key: 'supercharger_serial',
  orderBy: 'version',
  columns: [
    { name: 'supercharger_serial', type: 'VARCHAR' },
    { name: 'location_name', type: 'VARCHAR' },
    { name: 'supercharger_type', type: 'VARCHAR' },
    { name: 'lat', type: 'DOUBLE' },
    { name: 'long', type: 'DOUBLE' },
    { name: 'status', type: 'VARCHAR' },
    { name: 'registered_at', type: 'TIMESTAMPTZ' },
    { name: 'status_changed_at', type: 'TIMESTAMPTZ' },
    { name: 'version', type: 'BIGINT' },
  ],
  keyOf: (e) => (e.aggregateType === 'supercharger' ? e.aggregateId : null),
  evolve(row, e) {
    if (e.eventType === 'SuperchargerRegistered') {
      const { supercharger_serial, location_name, supercharger_type, lat, long } = e.data;
      // The initial status is held from registration, so it "changed" then (as the history says).
      return { supercharger_serial, location_name, supercharger_type, lat, long, status: 'notinuse', registered_at: e.timestamp, status_changed_at: e.timestamp, version: e.version };
    }
    return { ...row, status: e.data.to, status_changed_at: e.timestamp, version: e.version };
  },
});

const statusHistory = superchargers.historyProjection({
  name: 'supercharger_status_history',
  eventTypes: ['SuperchargerRegistered', 'SuperchargerStatusChanged'],
  version: 3,
  description: 'One row per status a supercharger held, valid from valid_from until valid_to (NULL while current); version is the aggregate version that set it',
  columns: [
    { name: 'supercharger_serial', type: 'VARCHAR' },
    { name: 'status', type: 'VARCHAR' },
    { name: 'valid_from', type: 'TIMESTAMPTZ' },
    { name: 'version', type: 'BIGINT' },
    { name: 'valid_to', type: 'TIMESTAMPTZ' },
  ],
  validity: { key: 'supercharger_serial', orderBy: 'version', from: 'valid_from', to: 'valid_to' },
  rows(e) {
    if (e.aggregateType !== 'supercharger') return [];
    const status = e.eventType === 'SuperchargerRegistered' ? 'notinuse' : e.data.to;
    return [{ supercharger_serial: e.aggregateId, status, valid_from: e.timestamp, version: e.version }];
  },
});

const dailyStatusChanges = superchargers.sqlProjection({
  name: 'daily_status_changes',
  eventTypes: ['SuperchargerStatusChanged'],
  version: 2,
  description: 'Status changes per UTC day and new status',
  columns: [
    { name: 'day', type: 'DATE' },
    { name: 'status', type: 'VARCHAR' },
    { name: 'changes', type: 'BIGINT' },
  ],
  sql: `SELECT CAST(timestamp AS DATE) AS day, data->>'to' AS status, count(*) AS changes
        FROM events WHERE eventType = 'SuperchargerStatusChanged' GROUP BY ALL`,
  merge: { kind: 'combine', key: ['day', 'status'], columns: { changes: 'count' } },
});

export const superchargersDomain = superchargers.define({
  name: 'superchargers',
  aggregates: [supercharger],
  commands: [register, changeStatus],
  sqlFile: 'superchargers.sql',
  projections: [superchargerState, statusHistory, dailyStatusChanges],
});
