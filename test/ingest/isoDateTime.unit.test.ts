import fc from 'fast-check';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import { describe, expect, it } from 'vitest';
import { isIsoDateTime } from '../../ingest/commandValidator.js';

const full = (fullFormats['iso-date-time'] as { validate: (text: string) => boolean }).validate;
const pad = (n: number, width: number) => String(n).padStart(width, '0');

describe('received: iso-date-time check', () => {
  it('accepts and refuses exactly what ajv-formats does, for canonical-looking strings with any field values', () => {
    const canonical = fc
      .tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }))
      .map(([y, mo, d, h, mi, s]) => `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}.123Z`);
    fc.assert(
      fc.property(fc.oneof(canonical, fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.string()), (text) => {
        expect(isIsoDateTime(text)).toBe(full(text));
      }),
      { numRuns: 5000 },
    );
  });

  it('leap days and leap seconds get the full check', () => {
    for (const text of ['2024-02-29T00:00:00.000Z', '2023-02-29T00:00:00.000Z', '2016-12-31T23:59:60.000Z', '2016-12-31T22:59:60.000Z', '2026-04-31T00:00:00.000Z']) {
      expect(isIsoDateTime(text)).toBe(full(text));
    }
  });
});
