import fc from 'fast-check';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import { describe, expect, it } from 'vitest';
import { businessTime, isIsoDateTime } from '../../ingest/businessTime.js';

const full = (fullFormats['iso-date-time'] as { validate: (text: string) => boolean }).validate;
const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** ajv-formats' rule, less what no timestamp column can hold: leap seconds, years past 9999 in UTC. */
const storable = (text: string) => full(text) && !/(^|[Tt\s])\d\d:\d\d:60(?!\d)/.test(text) && !/^9999-12-31[Tt ].*-\d\d:?\d\d$/.test(text);

describe('received: iso-date-time check', () => {
  it('accepts and refuses exactly what ajv-formats does, less leap seconds, for canonical-looking strings with any field values', () => {
    const canonical = fc
      .tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }))
      .map(([y, mo, d, h, mi, s]) => `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}.123Z`);
    fc.assert(
      fc.property(fc.oneof(canonical, fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.string()), (text) => {
        expect(isIsoDateTime(text)).toBe(storable(text));
        if (isIsoDateTime(text)) expect(businessTime(text)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        else expect(businessTime(text)).toBeNull();
      }),
      { numRuns: 5000 },
    );
  });

  it('leap days get the full check; leap seconds, which ajv-formats accepts, are refused', () => {
    for (const text of ['2024-02-29T00:00:00.000Z', '2023-02-29T00:00:00.000Z', '2026-04-31T00:00:00.000Z']) {
      expect(isIsoDateTime(text)).toBe(full(text));
    }
    for (const text of ['2016-12-31T23:59:60.000Z', '2016-12-31T23:59:60Z', '2017-01-01T00:59:60+01:00', '2016-12-31 23:59:60']) {
      expect(full(text)).toBe(true);
      expect(isIsoDateTime(text)).toBe(false);
      expect(businessTime(text)).toBeNull();
    }
  });
});
