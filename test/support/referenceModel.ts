/**
 * An independent, deliberately plain model of the two example domains, written from DESIGN.md
 * and not from eventlake's code: it folds a list of command lines into what every view should
 * show. Tests compare the real pipeline's answers with it.
 */
export interface Expected {
  codes: (string | 'accepted' | 'duplicate')[];
  superchargers: Map<string, { location_name: string; supercharger_type: string; lat: number; long: number; status: string; registered_at: string; status_changed_at: string; version: number }>;
  history: { serial: string; status: string; from: string; to: string | null }[];
  dailyChanges: Map<string, number>;
  orders: Map<string, { customer_id: string; status: string; total: number; items: number; created: string; updated: string; history: { status: string; from: string }[] }>;
  customers: Map<string, string>;
  /** When each customer registered (the `customers` read model's registered_at). */
  customerRegisteredAt: Map<string, string>;
}

const CHARGER = ['inuse', 'notinuse', 'serviced', 'decomissioned'];
const ORDER_MOVES: Record<string, string[]> = { Created: ['Paid', 'Cancelled'], Paid: ['Shipped', 'Cancelled'], Shipped: ['Delivered'] };

const iso = (t: string) => new Date(/(z|[+-]\d\d:?\d\d)$/i.test(t) ? t : `${t}Z`).toISOString();

export function expectedFrom(lines: string[]): Expected {
  const e: Expected = { codes: [], superchargers: new Map(), history: [], dailyChanges: new Map(), orders: new Map(), customers: new Map(), customerRegisteredAt: new Map() };
  const seen = new Set<string>();
  const versions = new Map<string, number>();
  for (const line of lines) {
    let c: any;
    try {
      c = JSON.parse(line);
    } catch {
      e.codes.push('schema');
      continue;
    }
    if (typeof c?.command_id === 'string' && seen.has(c.command_id)) {
      e.codes.push('duplicate');
      continue;
    }
    if (typeof c?.command_id === 'string') seen.add(c.command_id);
    e.codes.push(apply(e, c, versions));
  }
  return e;
}

function apply(e: Expected, c: any, versions: Map<string, number>): string {
  if (typeof c !== 'object' || c === null || typeof c.received !== 'string' || typeof c.command !== 'object') return 'schema';
  const p = c.command;
  const at = iso(c.received);
  const bump = (key: string) => {
    const v = (versions.get(key) ?? 0) + 1;
    versions.set(key, v);
    return v;
  };
  switch (c.command_name) {
    case 'RegisterSupercharger': {
      if (typeof p.lat !== 'number' || p.lat < -90 || p.lat > 90 || typeof p.long !== 'number' || p.long < -180 || p.long > 180) return 'schema';
      if (e.superchargers.has(p.supercharger_serial)) return 'duplicate_aggregate';
      const version = bump(`s:${p.supercharger_serial}`);
      e.superchargers.set(p.supercharger_serial, { location_name: p.location_name, supercharger_type: p.supercharger_type, lat: p.lat, long: p.long, status: 'notinuse', registered_at: at, status_changed_at: at, version });
      e.history.push({ serial: p.supercharger_serial, status: 'notinuse', from: at, to: null });
      return 'accepted';
    }
    case 'ChangeSuperchargerStatus': {
      if (!CHARGER.includes(p.status)) return 'schema';
      const s = e.superchargers.get(p.supercharger_serial);
      if (!s) return 'not_found';
      if (s.status === p.status) return 'no_change';
      if (s.status === 'decomissioned') return 'invalid_transition';
      s.status = p.status;
      s.status_changed_at = at;
      s.version = bump(`s:${p.supercharger_serial}`);
      const open = e.history.filter((h) => h.serial === p.supercharger_serial && h.to === null)[0];
      open.to = at;
      e.history.push({ serial: p.supercharger_serial, status: p.status, from: at, to: null });
      const day = at.slice(0, 10);
      e.dailyChanges.set(`${day}|${p.status}`, (e.dailyChanges.get(`${day}|${p.status}`) ?? 0) + 1);
      return 'accepted';
    }
    case 'RegisterCustomer':
      if (e.customers.has(p.customer_id)) return 'duplicate_aggregate';
      e.customers.set(p.customer_id, p.customer_name);
      e.customerRegisteredAt.set(p.customer_id, at);
      return 'accepted';
    case 'CreateOrder': {
      if (!Array.isArray(p.items) || p.items.length === 0 || p.items.some((i: any) => !Number.isInteger(i.quantity) || i.quantity < 1 || i.unit_price < 0)) return 'schema';
      if (e.orders.has(p.order_id)) return 'duplicate_aggregate';
      const total = p.items.reduce((s: number, i: any) => s + i.quantity * i.unit_price, 0);
      const items = p.items.reduce((s: number, i: any) => s + i.quantity, 0);
      e.orders.set(p.order_id, { customer_id: p.customer_id, status: 'Created', total, items, created: at, updated: at, history: [{ status: 'Created', from: at }] });
      return 'accepted';
    }
    case 'ChangeOrderStatus': {
      const o = e.orders.get(p.order_id);
      if (!['Created', 'Paid', 'Shipped', 'Delivered', 'Cancelled'].includes(p.status)) return 'schema';
      if (!o) return 'not_found';
      if (o.status === p.status) return 'no_change';
      if (!(ORDER_MOVES[o.status] ?? []).includes(p.status)) return 'invalid_transition';
      o.status = p.status;
      o.updated = at;
      o.history.push({ status: p.status, from: at });
      return 'accepted';
    }
    default:
      return 'unknown_command';
  }
}

/** Status of each supercharger at time `ts` (valid_from <= ts < valid_to). */
export function superchargersAsOf(e: Expected, ts: string): Map<string, string> {
  const at = iso(ts);
  const result = new Map<string, string>();
  for (const h of e.history) if (h.from <= at && (h.to === null || at < h.to)) result.set(h.serial, h.status);
  return result;
}

/** Status of each order at time `ts`. */
export function ordersAsOf(e: Expected, ts: string): Map<string, string> {
  const at = iso(ts);
  const result = new Map<string, string>();
  for (const [id, o] of e.orders) {
    const held = o.history.filter((h) => h.from <= at).pop();
    if (held) result.set(id, held.status);
  }
  return result;
}

/** One row per status an order held: valid from its change until the next one (null while current). */
export function orderStatusPeriods(e: Expected): { order_id: string; status: string; from: string; to: string | null }[] {
  return [...e.orders].flatMap(([order_id, o]) => o.history.map((h, i) => ({ order_id, status: h.status, from: h.from, to: o.history[i + 1]?.from ?? null })));
}
