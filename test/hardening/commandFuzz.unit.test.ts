import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { commandWorkflowDomain } from '../../domains/commandWorkflow.js';
import { ordersDomain } from '../../domains/orders.js';
import { registryOf } from '../../domains/registry.js';
import { superchargersDomain } from '../../domains/superchargers.js';
import { Ingester } from '../../ingest/ingester.js';
import { LakeLayout } from '../../lake/layout.js';
import { tempDir } from '../support/cli.js';
import { duckdbReadsTheWholeLog } from '../support/lakeLog.js';

const registry = registryOf([commandWorkflowDomain, superchargersDomain, ordersDomain]);
const LONG = process.env.EVENTLAKE_FUZZ_LONG === '1';

const deep = (depth: number, leaf: string) => '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
const envelope = (command_name: string, command: unknown, extra: object = {}) => JSON.stringify({ command_id: 'fz', command_name, received: '2026-01-01T00:00:00Z', command, ...extra });

/** Inputs aimed at the parser and validator: bytes, JSON of every shape, and known nasties. */
const hostileLine = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 20 }).map((s) => envelope('RegisterCustomer', { customer_id: s, customer_name: s }, { metadata: { [s]: s } })),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('utf8')),
  fc.json({ maxDepth: 6 }),
  fc.jsonValue({ maxDepth: 4 }).map((v) => envelope('RegisterSupercharger', v)),
  fc.jsonValue({ maxDepth: 4 }).map((v) => envelope('CreateOrder', { order_id: 'o', customer_id: 'c', items: v })),
  fc.record({ lat: fc.double(), long: fc.double() }).map(({ lat, long }) => envelope('RegisterSupercharger', { supercharger_serial: 's', location_name: 'x', supercharger_type: 't', lat, long })),
  fc.constantFrom(
    envelope('RegisterCustomer', { customer_id: 'c', customer_name: 'n', __proto__: { polluted: true } }),
    '{"__proto__":{"polluted":true},"command_name":"RegisterCustomer","received":"2026-01-01T00:00:00Z","command":{"customer_id":"p","customer_name":"n"}}',
    envelope('RegisterCustomer', { customer_id: 'q', customer_name: 'n' }, { metadata: JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}') }),
    envelope('RegisterCustomer', { customer_id: 'c', customer_name: 'x'.repeat(2_000_000) }),
    envelope('CreateOrder', { order_id: 'o', customer_id: 'c', items: [{ sku: 's', quantity: 1e309, unit_price: 1 }] }),
    envelope('CreateOrder', { order_id: 'o', customer_id: 'c', items: [{ sku: 's', quantity: 2 ** 53 + 1, unit_price: -0 }] }),
    envelope('RegisterCustomer', { customer_id: '\u0000\ud800\uffff', customer_name: '\u202e' }),
    envelope('RegisterCustomer', { customer_id: 'c', customer_name: 'n' }, { received: '2016-12-31T23:59:60.000Z' }),
    envelope('RegisterCustomer', { customer_id: 'c', customer_name: 'n' }, { correlation_id: 'x\udfff', metadata: { big: 2 ** 60, '\ud800': 1 } }),
    JSON.stringify({ command_id: 'id\udfff', command_name: 'Not\ud800Known', received: '2026-01-01T00:00:00Z', command: {} }),
    `{"command_name":"RegisterCustomer","received":"2026-01-01T00:00:00Z","command":{"customer_id":"d","customer_name":"n"},"metadata":${deep(100_000, '1')}}`,
    deep(200_000, '1'),
    '[' .repeat(100_000),
    envelope('RegisterCustomer', { customer_id: 'c', customer_name: 'n' }, { received: '2026-02-30T00:00:00Z' }),
    envelope('RegisterCustomer', { customer_id: 'c', customer_name: 'n' }, { received: 'yesterday' }),
  ),
);

describe('fuzzing the command parser', () => {
  it('every input gets a clean outcome, nothing crashes, nothing is polluted, rejections write no events', async () => {
    const layout = new LakeLayout(tempDir());
    const ingester = await Ingester.open(layout, registry, { partitions: 2 });
    let events = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(hostileLine, { minLength: 1, maxLength: 20 }), async (lines) => {
        for (const line of lines) {
          const before = ingester.head;
          const outcome = ingester.decideLine(line, 'fuzz');
          expect(['accepted', 'rejected', 'duplicate']).toContain(outcome.status);
          if (outcome.status === 'rejected') {
            expect(outcome.code).toMatch(/^(schema|unknown_command|duplicate_aggregate|not_found|invalid_transition|no_change)$/);
            expect(outcome.message.length).toBeGreaterThan(0);
            expect(outcome.message.length).toBeLessThan(2000); // never echoes a huge input back
          }
          if (outcome.status === 'accepted') events += outcome.events.length;
          expect(before).toBe(ingester.head); // decided, not yet written
        }
        await ingester.commit();
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        const written = Object.entries(ingester.head.streams).filter(([s]) => s !== 'commands').reduce((n, [, h]) => n + h.sequence, 0);
        expect(written).toBe(events);
      }),
      { numRuns: LONG ? 20_000 : 150 },
    );
    await ingester.close();
    // Accepted or refused, every record logged for them is readable by DuckDB (the projections' reader).
    expect(await duckdbReadsTheWholeLog(layout.root)).toBeGreaterThan(0);
    if (LONG) expect(process.memoryUsage().rss).toBeLessThan(1.5 * 1024 ** 3);
  });
});
