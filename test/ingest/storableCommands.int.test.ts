import { describe, expect, it } from 'vitest';
import { commandWorkflowDomain } from '../../domains/commandWorkflow.js';
import { ordersDomain } from '../../domains/orders.js';
import { registryOf } from '../../domains/registry.js';
import { superchargersDomain } from '../../domains/superchargers.js';
import { Ingester } from '../../ingest/ingester.js';
import { LakeLayout } from '../../lake/layout.js';
import { tempDir } from '../support/cli.js';
import { duckdbReadsTheWholeLog, readLogStream } from '../support/lakeLog.js';

const registry = registryOf([commandWorkflowDomain, superchargersDomain, ordersDomain]);
const RECEIVED = '2026-01-01T00:00:00.000Z';
const customer = (id: string, extra: Record<string, unknown> = {}) => ({ command_id: `c-${id}`, command_name: 'RegisterCustomer', received: RECEIVED, command: { customer_id: id, customer_name: 'n' }, ...extra });

/** Raw NDJSON lines (JSON.stringify cannot write 1e309 or 20 digits as sent). */
const POISON: { line: string; path: string; message: RegExp }[] = [
  { line: `{"command_id":"leap","command_name":"RegisterCustomer","received":"2016-12-31T23:59:60.000Z","command":{"customer_id":"L1","customer_name":"n"}}`, path: '/received', message: /leap second/ },
  { line: `{"command_id":"leap2","command_name":"RegisterCustomer","received":"2016-12-31T23:59:60Z","command":{"customer_id":"L2","customer_name":"n"}}`, path: '/received', message: /leap second/ },
  { line: `{"command_id":"leap3","command_name":"RegisterCustomer","received":"2017-01-01T00:59:60+01:00","command":{"customer_id":"L3","customer_name":"n"}}`, path: '/received', message: /leap second/ },
  { line: `{"command_id":"y10k","command_name":"RegisterCustomer","received":"9999-12-31T23:00:00-05:00","command":{"customer_id":"Y1","customer_name":"n"}}`, path: '/received', message: /received/ },
  { line: `{"command_id":"feb30","command_name":"RegisterCustomer","received":"2016-02-30T00:00:00.000Z","command":{"customer_id":"F1","customer_name":"n"}}`, path: '/received', message: /received/ },
  { line: `{"command_id":"sur-payload","command_name":"RegisterCustomer","received":"${RECEIVED}","command":{"customer_id":"SUR\\udfff","customer_name":"n"}}`, path: '/command/customer_id', message: /surrogate/ },
  { line: `{"command_id":"sur-meta","command_name":"RegisterCustomer","received":"${RECEIVED}","command":{"customer_id":"S2","customer_name":"n"},"metadata":{"note":["ok","\\ud800x"]}}`, path: '/metadata/note/1', message: /surrogate/ },
  { line: `{"command_id":"sur-key","command_name":"RegisterCustomer","received":"${RECEIVED}","command":{"customer_id":"S3","customer_name":"n"},"metadata":{"\\udc00":1}}`, path: '/metadata/\ufffd', message: /surrogate/ },
  { line: `{"command_id":"sur-corr","command_name":"RegisterCustomer","received":"${RECEIVED}","correlation_id":"x\\udbff","command":{"customer_id":"S4","customer_name":"n"}}`, path: '/correlation_id', message: /surrogate/ },
  { line: `{"command_id":"sur-name","command_name":"Register\\udbffCustomer","received":"${RECEIVED}","command":{"customer_id":"S5","customer_name":"n"}}`, path: '/command_name', message: /surrogate/ },
  { line: `{"command_id":"S\\udfffID","command_name":"RegisterCustomer","received":"${RECEIVED}","command":{"customer_id":"S6","customer_name":"n"}}`, path: '/command_id', message: /surrogate/ },
  { line: `{"command_id":"inf","command_name":"RegisterCustomer","received":"${RECEIVED}","command":{"customer_id":"N1","customer_name":"n"},"metadata":{"amount":1e309}}`, path: '/metadata/amount', message: /range of a double/ },
  { line: `{"command_id":"big","command_name":"RegisterCustomer","received":"${RECEIVED}","command":{"customer_id":"N2","customer_name":"n"},"metadata":{"id":12345678901234567890}}`, path: '/metadata/id', message: /2\^53/ },
  { line: `{"command_id":"big-payload","command_name":"CreateOrder","received":"${RECEIVED}","command":{"order_id":"O1","customer_id":"N3","items":[{"sku":"s","quantity":9007199254740993,"unit_price":1}]}}`, path: '/command/items/0/quantity', message: /2\^53/ },
  { line: `{"command_id":"inf-payload","command_name":"RegisterSupercharger","received":"${RECEIVED}","command":{"supercharger_serial":"X","location_name":"x","supercharger_type":"t","lat":-1e999,"long":0}}`, path: '/command/lat', message: /range of a double/ },
];

describe('only what every sink stores faithfully is logged', () => {
  it('leap seconds, lone surrogates, infinite and inexact numbers are refused as schema errors naming the field', async () => {
    const layout = new LakeLayout(tempDir());
    const ingester = await Ingester.open(layout, registry, { partitions: 2 });
    for (const { line, path: field, message } of POISON) {
      const outcome = ingester.decideLine(line, 'test');
      expect(outcome, line).toMatchObject({ status: 'rejected', code: 'schema', path: field });
      expect((outcome as { message: string }).message, line).toMatch(message);
    }
    await ingester.commit();
    await ingester.close();
    expect(readLogStream(layout.root, 'p0').length + readLogStream(layout.root, 'p1').length).toBe(0);
    // Even the refusals' own records (command_status reads them) are readable by DuckDB.
    expect(await duckdbReadsTheWholeLog(layout.root)).toBe(POISON.length);
  });

  it('the edge cases that are storable are accepted as sent', async () => {
    const layout = new LakeLayout(tempDir());
    const ingester = await Ingester.open(layout, registry, { partitions: 2 });
    const accepted = [
      customer('emoji-😀', { received: '2016-12-31T23:59:59.999Z', metadata: { max: 2 ** 53 - 1, min: -(2 ** 53 - 1), small: 1e-300, text: '\u0000\uffff' } }),
      customer('year0', { received: '0000-01-01T00:00:00Z' }),
      customer('offset', { received: '2017-01-01T00:59:59+01:00' }),
    ];
    for (const command of accepted) expect(ingester.decide(command, 'test').status, JSON.stringify(command)).toBe('accepted');
    await ingester.commit();
    await ingester.close();
    const events = [...readLogStream<{ timestamp: string; metadata: Record<string, unknown> }>(layout.root, 'p0'), ...readLogStream<{ timestamp: string; metadata: Record<string, unknown> }>(layout.root, 'p1')];
    expect(events.map((e) => e.timestamp).sort()).toEqual(['0000-01-01T00:00:00.000Z', '2016-12-31T23:59:59.000Z', '2016-12-31T23:59:59.999Z']);
    expect(events.find((e) => e.metadata.max !== undefined)!.metadata).toMatchObject({ max: 2 ** 53 - 1, min: -(2 ** 53 - 1), small: 1e-300 });
    expect(await duckdbReadsTheWholeLog(layout.root)).toBe(6);
  });

  it('a domain that emits an unstorable value has its command refused, nothing logged for it', async () => {
    const layout = new LakeLayout(tempDir());
    const computing = registryOf([commandWorkflowDomain, { ...ordersDomain, commands: ordersDomain.commands.map((c) => (c.commandName === 'RegisterCustomer' ? { ...c, decide: () => [{ eventType: 'CustomerRegistered', data: { ratio: 0 / 0 } }] } : c)) }]);
    const ingester = await Ingester.open(layout, computing, { partitions: 1 });
    expect(ingester.decide(customer('nan'), 'test')).toMatchObject({ status: 'rejected', code: 'schema', message: expect.stringMatching(/CustomerRegistered.*ratio/) });
    await ingester.commit();
    await ingester.close();
    expect(readLogStream(layout.root, 'p0')).toEqual([]);
  });
});
