import { sampleNdjson } from '../../../domains/sampleCommands.js';

/**
 * The commands of the exact-tables acceptance test, as NDJSON lines per file. A generated stream
 * of both domains (with refusals) cut into four files, and at the end of each file hand-written
 * edges: every rejection code, duplicates within and across files, events of one key and of
 * several keys at the same timestamp, one station and one order changing status many times across
 * files, and status changes on both sides of a UTC midnight.
 */
const DAY = Date.parse('2026-01-01T00:00:00Z');
const at = (minutes: number) => new Date(DAY + minutes * 60_000).toISOString();
let next = 0;
const cmd = (command_name: string, command: object, minutes: number) => JSON.stringify({ command_id: `x-${++next}`, command_name, received: at(minutes), command });
const station = (serial: string) => ({ supercharger_serial: serial, location_name: 'Edge Site', supercharger_type: 'V4', lat: 59.9, long: 10.7 });
const status = (serial: string, s: string, minutes: number) => cmd('ChangeSuperchargerStatus', { supercharger_serial: serial, status: s }, minutes);
const orderStatus = (order_id: string, s: string, minutes: number) => cmd('ChangeOrderStatus', { order_id, status: s }, minutes);
const CYCLE = ['inuse', 'serviced', 'notinuse'];

/** A station moving through CYCLE `count` times from `startMinute`, a minute apart. */
function manyChanges(serial: string, count: number, startMinute: number, offset: number): string[] {
  return Array.from({ length: count }, (_, i) => status(serial, CYCLE[(i + offset) % 3], startMinute + i));
}

function fileOneEdges(): string[] {
  const t = 30;
  return [
    cmd('RegisterSupercharger', station('X-S1'), t),
    cmd('RegisterSupercharger', station('X-S2'), t), // three registrations at one timestamp
    cmd('RegisterSupercharger', station('X-S3'), t),
    status('X-S1', 'inuse', t), // a change at the registration's own timestamp
    status('X-S1', 'serviced', t + 1),
    status('X-S1', 'notinuse', t + 1), // two changes of one key at one timestamp
    cmd('RegisterSupercharger', station('X-S1'), t + 2), // duplicate_aggregate
    status('X-S1', 'notinuse', t + 3), // no_change
    status('X-NONE', 'inuse', t + 3), // not_found
    cmd('ChangeSuperchargerStatus', { supercharger_serial: 'X-S1', status: 'broken' }, t + 3), // schema (enum)
    cmd('RegisterSupercharger', { ...station('X-BAD'), lat: 91 }, t + 3), // schema (range)
    cmd('LaunchRocket', {}, t + 3), // unknown_command
    '{"command_name": "RegisterCustomer", "received": ', // a torn line: schema
    cmd('RegisterCustomer', { customer_id: 'X-C1', customer_name: 'Edge Customer' }, t),
    cmd('RegisterCustomer', { customer_id: 'X-C1', customer_name: 'Again' }, t + 1), // duplicate_aggregate
    cmd('CreateOrder', { order_id: 'X-O1', customer_id: 'X-C1', items: [{ sku: 'A', quantity: 2, unit_price: 9.5 }, { sku: 'B', quantity: 1, unit_price: 0 }] }, t),
    orderStatus('X-O1', 'Paid', t), // created and paid at one timestamp
    orderStatus('X-O1', 'Paid', t + 1), // no_change
    orderStatus('X-O1', 'Delivered', t + 1), // invalid_transition
    orderStatus('X-NONE', 'Paid', t + 1), // not_found
    cmd('CreateOrder', { order_id: 'X-O9', customer_id: 'X-NO-SUCH-CUSTOMER', items: [{ sku: 'Z', quantity: 3, unit_price: 1.25 }] }, t + 2),
  ];
}

function fileTwoEdges(): string[] {
  return [
    ...manyChanges('X-S1', 12, 200, 0),
    orderStatus('X-O1', 'Shipped', 210),
    cmd('CreateOrder', { order_id: 'X-O2', customer_id: 'X-C1', items: [{ sku: 'C', quantity: 1, unit_price: 3 }] }, 211),
    orderStatus('X-O2', 'Cancelled', 211),
    orderStatus('X-O2', 'Paid', 212), // invalid_transition (Cancelled is final)
  ];
}

function fileThreeEdges(): string[] {
  return [
    ...manyChanges('X-S1', 12, 400, 1),
    status('X-S2', 'decomissioned', 401),
    status('X-S2', 'inuse', 402), // invalid_transition: decomissioned is final
    status('X-S2', 'decomissioned', 403), // no_change, checked before the final rule
    orderStatus('X-O1', 'Delivered', 405),
  ];
}

function fileFourEdges(): string[] {
  return [
    ...manyChanges('X-S1', 12, 1430, 2), // 23:50 .. 00:01 the next day
    status('X-S3', 'inuse', 1439),
    status('X-S3', 'serviced', 1440), // UTC midnight
  ];
}

/** Four files; file 3 replays some lines of file 1 and file 2 repeats one of its own lines. */
export function scenarioFiles(): string[][] {
  next = 0;
  const generated = [...sampleNdjson({ count: 1200, seed: 23, stepSeconds: 41, invalidShare: 0.05 })];
  const chunk = (i: number) => generated.slice(i * 300, (i + 1) * 300);
  const one = [...chunk(0), ...fileOneEdges()];
  const two = [...chunk(1), ...fileTwoEdges()];
  two.push(two[17]); // a duplicate inside the file
  const three = [...chunk(2), ...fileThreeEdges(), ...one.filter((_, i) => i % 23 === 0)];
  const four = [...chunk(3), ...fileFourEdges()];
  return [one, two, three, four];
}
