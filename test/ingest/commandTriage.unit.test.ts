import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { overByteLimit, parseCommandLine } from '../../ingest/commandTriage.js';

describe('the command size limit', () => {
  it('is in UTF-8 bytes, whatever the characters (ASCII, accents, CJK, emoji, lone surrogates)', () => {
    const piece = fc.oneof(fc.constantFrom('a', 'é', '中', '😀', '\ud800'), fc.string({ unit: 'binary', maxLength: 2 }));
    const text = fc.array(piece, { maxLength: 400 }).map((pieces) => pieces.join(''));
    fc.assert(
      fc.property(text, fc.integer({ min: 0, max: 1300 }), (line, maxBytes) => {
        expect(overByteLimit(line, maxBytes)).toBe(Buffer.byteLength(line) > maxBytes);
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses a line shorter than the limit in characters but longer in bytes, saying both numbers', () => {
    const line = JSON.stringify({ command_id: 'wide', command_name: 'RegisterCustomer', command: { customer_name: 'é'.repeat(600) } });
    expect(line.length).toBeLessThan(1024);
    expect(parseCommandLine(line, 1024)).toEqual({ ok: false, rejection: { code: 'schema', message: `command is ${Buffer.byteLength(line)} bytes, over the limit of 1024`, path: '/' } });
    expect(parseCommandLine(line, Buffer.byteLength(line))).toMatchObject({ ok: true });
  });
});
