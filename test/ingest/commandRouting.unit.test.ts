import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadDomains } from '../../domains/loadDomains.js';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { aggregateFieldOf } from '../../ingest/aggregateField.js';
import { CommandRouter, ownerOf } from '../../ingest/commandRouting.js';
import { commandIdOf } from '../../ingest/commandTriage.js';
import { ABSENT, JsonMemberScan, OBJECT, OTHER } from '../../ingest/jsonMemberScan.js';

const registry = await loadDomains(['superchargers', 'orders'], process.cwd());

/** What JSON.parse says the scan should have found: each key's last value, by kind. */
function parsedMembers(text: string, keys: string[]): { ok: boolean; members: unknown[] } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, members: [] };
  }
  const isObject = value !== null && typeof value === 'object' && !Array.isArray(value);
  return { ok: isObject, members: keys.map((k) => (isObject && Object.hasOwn(value as object, k) ? (value as Record<string, unknown>)[k] : undefined)) };
}

/** The scan's view of each key: a string's value, an object's text parsed, or a kind. */
function scannedMembers(scan: JsonMemberScan, text: string, keys: string[]): unknown[] {
  return keys.map((_, k) => {
    if (scan.kinds[k] === ABSENT) return undefined;
    if (scan.kinds[k] === OBJECT) return JSON.parse(text.slice(scan.starts[k], scan.ends[k]));
    if (scan.kinds[k] === OTHER) return 'other';
    return scan.stringOf(text, k);
  });
}

function expectedView(member: unknown): unknown {
  if (member === undefined || typeof member === 'string') return member;
  return member !== null && typeof member === 'object' && !Array.isArray(member) ? member : 'other';
}

const KEYS = ['command_id', 'command', 'a'];

/** JSON texts near the wanted shape, with random spacing, duplicates and nesting. */
const jsonObjects = fc
  .array(
    fc.tuple(fc.constantFrom('command_id', 'command', 'a', 'b', 'command_i', 'x y'), fc.jsonValue({ maxDepth: 3 }), fc.constantFrom('', ' ', '\n\t', '\r\n ')),
    { maxLength: 6 },
  )
  .map((members) => `{${members.map(([k, v, space]) => `${space}${JSON.stringify(k)}${space}:${space}${JSON.stringify(v, null, space ? 1 : 0)}${space}`).join(',')}}`);

/** Mutations of valid texts: cut, a character changed or inserted; mostly invalid JSON. */
const mutated = fc.tuple(jsonObjects, fc.nat(), fc.constantFrom('', '"', '\\', ',', '}', ']', '{', '[', '-', '0', '.', 'e', '\u0001', 'tru', ' ', '\\u12', '\\x')).map(([text, at, piece]) => {
  const i = text.length === 0 ? 0 : at % text.length;
  return at % 3 === 0 ? text.slice(0, i) + piece + text.slice(i + 1) : at % 3 === 1 ? text.slice(0, i) + piece + text.slice(i) : text.slice(0, i);
});

describe('JSON member scan', () => {
  it('accepts only what JSON.parse accepts, and then finds what it finds (the last of duplicate keys)', () => {
    const scan = new JsonMemberScan(KEYS);
    fc.assert(
      fc.property(fc.oneof(jsonObjects, mutated, fc.string()), (text) => {
        const parsed = parsedMembers(text, KEYS);
        if (!scan.scan(text)) return;
        expect(parsed.ok).toBe(true);
        expect(scannedMembers(scan, text, KEYS)).toEqual(parsed.members.map(expectedView));
      }),
      { numRuns: 3000 },
    );
  });

  it('accepts every valid object it is not told to decline', () => {
    const scan = new JsonMemberScan(KEYS);
    fc.assert(
      fc.property(jsonObjects, (text) => {
        expect(scan.scan(text), text).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses what JSON.parse refuses, each a case it would otherwise miss', () => {
    const scan = new JsonMemberScan(KEYS);
    for (const text of ['{"a":01}', '{"a":1.}', '{"a":.5}', '{"a":1e}', '{"a":-}', '{"a":"\u0001"}', '{"a":"\\x"}', '{"a":"\\u12g4"}', '{"a":[1,]}', '{"a":1,}', '{"a" 1}', '{"a":1} x', '{"a":tru}', '{"a":nul}', '', '{', '{"a":{"b":1}']) {
      expect(() => JSON.parse(text), text).toThrow();
      expect(scan.scan(text), text).toBe(false);
    }
    // JSON, but no object: the caller parses them (and refuses them as commands).
    for (const text of ['[]', '"s"', '1', 'null']) expect(scan.scan(text), text).toBe(false);
  });

  it('declines a top-level key with an escape: it may spell a wanted one', () => {
    const scan = new JsonMemberScan(KEYS);
    expect(scan.scan('{"command\\u005fid":"x"}')).toBe(false);
    expect(scan.scan('{"m":{"command\\u005fid":"x"}}')).toBe(true);
  });
});

describe('aggregate field of a command handler', () => {
  it('is the one field a plain read returns', () => {
    expect(aggregateFieldOf({ aggregateId: (c) => c.order_id as string })).toBe('order_id');
    expect(aggregateFieldOf({ aggregateId: (c) => `${c.order_id as string}` })).toBe('order_id');
  });

  it('is none when the id is derived, chosen among fields or computed', () => {
    expect(aggregateFieldOf({ aggregateId: (c) => (c.order_id as string).trim() })).toBeNull();
    expect(aggregateFieldOf({ aggregateId: (c) => (c.order_id as string).toUpperCase() })).toBeNull();
    expect(aggregateFieldOf({ aggregateId: (c) => `order-${c.order_id as string}` })).toBeNull();
    expect(aggregateFieldOf({ aggregateId: (c) => `${c.region as string}/${c.id as string}` })).toBeNull();
    expect(aggregateFieldOf({ aggregateId: (c) => ('serial' in c ? (c.serial as string) : (c.id as string)) })).toBeNull();
    expect(aggregateFieldOf({ aggregateId: (c) => Object.keys(c).sort().join() })).toBeNull();
    expect(aggregateFieldOf({ aggregateId: () => 'constant' })).toBeNull();
    expect(aggregateFieldOf({ aggregateId: (c) => (c.a as { b: string }).b })).toBeNull();
  });

  it('is found for every command of the example domains', () => {
    for (const domain of registry.domains) for (const handler of domain.commands) expect(aggregateFieldOf(handler), handler.commandName).not.toBeNull();
  });
});

describe('command router', () => {
  /** What the pool settled for a line before the scan: parse, id, owner. */
  function parsedRoute(text: string, deciders: number): { commandId: string | null; owner: number } | null {
    const value = JSON.parse(text) as unknown;
    const id = commandIdOf(value);
    return id.ok ? { commandId: id.commandId, owner: ownerOf(registry, value, 4, deciders) } : null;
  }

  it('routes as a full parse does, or leaves the line to one', () => {
    const router = new CommandRouter(registry, 4, 2);
    const lines = [
      ...sampleNdjson({ count: 2000, seed: 5, invalidShare: 0.1 }),
      '{"command_name":"RegisterCustomer","received":"2026-01-01T00:00:00Z","command":{"customer_id":"NOID","customer_name":"n"}}',
      '{"command_id":"dup-key","command_id":"dup-key-2","command_name":"RegisterCustomer","received":"2026-01-01T00:00:00Z","command":{"customer_id":"C1","customer_id":"C2","customer_name":"n"}}',
      '{"metadata":{"command_id":"nested"},"command_name":"RegisterCustomer","received":"2026-01-01T00:00:00Z","command":{"customer_name":"n","x":{"customer_id":"deep"},"customer_id":"C3"}}',
      '{"command_id":"esc\\u0041ped","command_name":"RegisterCustomer","received":"2026-01-01T00:00:00Z","command":{"customer_id":"C\\"4","customer_name":"n"}}',
      '{"command_id":7,"command_name":"RegisterCustomer","received":"2026-01-01T00:00:00Z","command":{"customer_id":"C5","customer_name":"n"}}',
      '{"command":{"customer_id":"C6","customer_name":"n"},"command_id":"name-last","received":"2026-01-01T00:00:00Z","command_name":"RegisterCustomer"}',
    ];
    let scanned = 0;
    for (const line of lines) {
      if (!router.route(line)) continue;
      scanned += 1;
      expect({ commandId: router.commandId, owner: router.owner }, line).toEqual(parsedRoute(line, 2));
    }
    expect(scanned).toBeGreaterThan(lines.length * 0.8); // the usual line is routed by the scan
  });

  it('leaves to a parse what it cannot settle: not JSON, an id that is no valid Unicode, an unknown command, no aggregate field', () => {
    const router = new CommandRouter(registry, 4, 2);
    for (const line of [
      'not json',
      '{"command_id":"\\udfff","command_name":"RegisterCustomer","received":"2026-01-01T00:00:00Z","command":{"customer_id":"X","customer_name":"Y"}}',
      '{"command_id":"u","command_name":"Nope","received":"2026-01-01T00:00:00Z","command":{"customer_id":"X"}}',
      '{"command_id":"v","command_name":"RegisterCustomer","received":"2026-01-01T00:00:00Z","command":{"customer_name":"Y"}}',
      '{"command_id":"w","command_name":"RegisterCustomer","received":"2026-01-01T00:00:00Z","command":[1]}',
      '{"command_id":"y","command_name":"RegisterCustomer","received":"2026-01-01T00:00:00Z","command":{"customer_id":5}}',
    ]) {
      expect(router.route(line), line).toBe(false);
    }
  });
});
