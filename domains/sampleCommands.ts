import type { CommandInput } from '../ingest/envelope.js';

/** Shape of a generated command stream (the demo, the tests and the benchmarks use it). */
export interface SampleOptions {
  /** How many commands. */
  count: number;
  seed?: number;
  /** Business time of the first command; each next one is `stepSeconds` later. */
  start?: string;
  stepSeconds?: number;
  /** Share of commands that are refused on purpose (bad schema, unknown ids, bad transitions). */
  invalidShare?: number;
}

const LOCATIONS = ['Oslo Fornebu', 'Berlin Mitte', 'Lyon Part-Dieu', 'Madrid Norte', 'Milano Centrale', 'Wien West', 'Praha Hlavni', 'Gdansk Port'];
const TYPES = ['V3', 'V4', 'Urban'];
const CHARGER_STATUSES = ['inuse', 'notinuse', 'serviced'];
const NEXT_ORDER_STATUS: Record<string, string[]> = { Created: ['Paid', 'Cancelled'], Paid: ['Shipped', 'Cancelled'], Shipped: ['Delivered'] };

/** Mulberry32: small, fast and seeded, so a sample is the same on every machine. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A realistic mix for both example domains: stations registered and changing status, customers
 * ordering and orders moving through their lifecycle, mostly valid, with a share of refusals.
 */
export function* sampleCommands(options: SampleOptions): Generator<CommandInput> {
  const rand = random(options.seed ?? 42);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)];
  const start = Date.parse(options.start ?? '2026-01-01T00:00:00Z');
  const step = (options.stepSeconds ?? 60) * 1000;
  const invalidShare = options.invalidShare ?? 0;
  const chargers: { serial: string; status: string }[] = [];
  const customers: string[] = [];
  const orders: { id: string; status: string }[] = [];
  // Some draws produce nothing (a finished order, a decomissioned station): draw until `count`.
  for (let i = 0, produced = 0; produced < options.count; i++) {
    const received = new Date(start + produced * step).toISOString();
    const command_id = `cmd-${options.seed ?? 42}-${i}`;
    const roll = rand();
    const make = (command_name: string, command: Record<string, unknown>): CommandInput => ({ command_id, command_name, received, command });
    const before = produced++;
    if (rand() < invalidShare) {
      yield invalidCommand(make, pick, i);
    } else if (roll < 0.04 || chargers.length === 0) {
      const serial = `SC-${String(chargers.length + 1).padStart(6, '0')}`;
      chargers.push({ serial, status: 'notinuse' });
      yield make('RegisterSupercharger', { supercharger_serial: serial, location_name: pick(LOCATIONS), supercharger_type: pick(TYPES), lat: Math.round((rand() * 20 + 40) * 1e5) / 1e5, long: Math.round((rand() * 30 - 5) * 1e5) / 1e5 });
    } else if (roll < 0.4) {
      const charger = pick(chargers);
      if (charger.status === 'decomissioned') {
        produced = before;
        continue;
      }
      const status = rand() < 0.01 ? 'decomissioned' : pick(CHARGER_STATUSES.filter((s) => s !== charger.status));
      charger.status = status;
      yield make('ChangeSuperchargerStatus', { supercharger_serial: charger.serial, status });
    } else if (roll < 0.45 || customers.length === 0) {
      const id = `CUST-${String(customers.length + 1).padStart(6, '0')}`;
      customers.push(id);
      yield make('RegisterCustomer', { customer_id: id, customer_name: `Customer ${customers.length}` });
    } else if (roll < 0.7 || orders.length === 0) {
      const id = `ORD-${String(orders.length + 1).padStart(7, '0')}`;
      orders.push({ id, status: 'Created' });
      const items = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => ({ sku: `SKU-${Math.floor(rand() * 500)}`, quantity: 1 + Math.floor(rand() * 4), unit_price: Math.round(rand() * 20000) / 100 }));
      yield make('CreateOrder', { order_id: id, customer_id: pick(customers), items });
    } else {
      const order = pick(orders);
      const next = NEXT_ORDER_STATUS[order.status];
      if (!next) {
        produced = before;
        continue;
      }
      order.status = pick(next);
      yield make('ChangeOrderStatus', { order_id: order.id, status: order.status });
    }
  }
}

function invalidCommand(make: (name: string, command: Record<string, unknown>) => CommandInput, pick: <T>(items: readonly T[]) => T, i: number): CommandInput {
  const kind = pick(['lat', 'unknown', 'missing', 'notfound', 'quantity']);
  if (kind === 'lat') return make('RegisterSupercharger', { supercharger_serial: `BAD-${i}`, location_name: 'Nowhere', supercharger_type: 'V3', lat: 123, long: 0 });
  if (kind === 'unknown') return make('DeleteEverything', {});
  if (kind === 'missing') return make('CreateOrder', { order_id: `BAD-${i}` });
  if (kind === 'notfound') return make('ChangeOrderStatus', { order_id: `NOPE-${i}`, status: 'Paid' });
  return make('CreateOrder', { order_id: `BAD-${i}`, customer_id: 'X', items: [{ sku: 'A', quantity: 0, unit_price: 1 }] });
}

/** The same commands as NDJSON lines. */
export function* sampleNdjson(options: SampleOptions): Generator<string> {
  for (const command of sampleCommands(options)) yield JSON.stringify(command);
}
