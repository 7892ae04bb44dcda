import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CommandIdStore, type CommandMemo } from '../../ingest/commandIdStore.js';

const memoArbitrary: fc.Arbitrary<CommandMemo> = fc.oneof(
  fc.record({ sequence: fc.nat(), status: fc.constant('completed' as const), code: fc.constant(null) }),
  fc.record({ sequence: fc.nat(), status: fc.constant('rejected' as const), code: fc.constantFrom('schema', 'not_found', 'no_change', 'custom_code', null) as fc.Arbitrary<CommandMemo['code']> }),
);

describe('command id store', () => {
  it('answers exactly as a Map of the same ids would, for any ids (unicode, lone surrogates, empty, near-identical)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('a', 'b', 'ab', 'ba', '', '\ud800', '\ud801', '\ufffd', 'x\udc00')), memoArbitrary), { maxLength: 300 }), fc.array(fc.string({ unit: 'binary' }), { maxLength: 50 }), (writes, probes) => {
        const store = new CommandIdStore();
        const reference = new Map<string, CommandMemo>();
        for (const [id, memo] of writes) {
          store.set(id, memo);
          reference.set(id, memo);
        }
        expect(store.size).toBe(reference.size);
        for (const id of [...reference.keys(), ...probes]) expect(store.get(id)).toEqual(reference.get(id));
        expect(new Map(store.entries())).toEqual(reference);
      }),
    );
  });

  it('keeps every one of many ids through table growth, in the order first seen', () => {
    const store = new CommandIdStore();
    const count = 200_000;
    for (let i = 0; i < count; i++) store.set(`cmd-${i}`, { sequence: i + 1, status: i % 7 === 0 ? 'rejected' : 'completed', code: i % 7 === 0 ? 'no_change' : null });
    expect(store.size).toBe(count);
    for (let i = 0; i < count; i += 997) expect(store.get(`cmd-${i}`)).toEqual({ sequence: i + 1, status: i % 7 === 0 ? 'rejected' : 'completed', code: i % 7 === 0 ? 'no_change' : null });
    expect(store.get(`cmd-${count}`)).toBeUndefined();
    expect(store.get('cmd-')).toBeUndefined();
    let inOrder = 0;
    for (const [id, memo] of store.entries()) if (id === `cmd-${inOrder}` && memo.sequence === inOrder + 1) inOrder += 1;
    expect(inOrder).toBe(count);
  });

  it('keeps ids longer than an arena chunk, in any script', () => {
    const store = new CommandIdStore();
    const ids = ['a'.repeat(100_000), 'é'.repeat(70_000), `${'x'.repeat(80_000)}\ud800`, 'short'];
    ids.forEach((id, i) => store.set(id, { sequence: i + 1, status: 'completed', code: null }));
    ids.forEach((id, i) => expect(store.get(id)?.sequence).toBe(i + 1));
    expect(store.get('a'.repeat(99_999))).toBeUndefined();
    expect([...store.entries()].map(([id]) => id)).toEqual(ids);
  });
});
