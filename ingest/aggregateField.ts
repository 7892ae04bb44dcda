import type { CommandHandler } from '../domains/domain.js';

/*
 * A domain names a command's aggregate with a function of the payload (`aggregateId`), which the
 * decider pool cannot call on a line it has not parsed. Most such functions read one field and
 * return it as it is (`(c) => c.order_id`); this finds that field by calling the function on a
 * stand-in payload that records what is read. A function that reads more than one field, or
 * returns anything but the field's own value, has no such field, and its commands are routed
 * after a full parse. Decider threads check every command they get against the owner the full
 * function gives (deciderWorker.ts), so a wrong guess stops the ingest instead of misordering.
 */

/** Probe values unlike any that a transformation (trim, case, prefix, slice) would leave as they are. */
const PROBES = [' Probe-\u00e9 x|1 ', '\tOTHER_probe/2\u{1F600}'];

/** The payload field whose string value is the aggregate id, or null when there is none to find. */
export function aggregateFieldOf(handler: Pick<CommandHandler, 'aggregateId'>): string | null {
  let field: string | null = null;
  for (const probe of PROBES) {
    const read = new Set<PropertyKey>();
    let inspected = false;
    const payload = new Proxy(
      {},
      {
        get: (_target, key) => {
          read.add(key);
          return probe;
        },
        // Asking which fields exist (`'x' in c`, Object.keys) may choose among fields: no one field then.
        has: () => {
          inspected = true;
          return false;
        },
        ownKeys: () => {
          inspected = true;
          return [];
        },
        getOwnPropertyDescriptor: () => {
          inspected = true;
          return undefined;
        },
      },
    );
    let id: unknown;
    try {
      id = handler.aggregateId(payload as Record<string, unknown>);
    } catch {
      return null;
    }
    const [only, ...more] = read;
    if (inspected || more.length > 0 || typeof only !== 'string' || id !== probe || (field !== null && field !== only)) return null;
    field = only;
  }
  return field;
}
