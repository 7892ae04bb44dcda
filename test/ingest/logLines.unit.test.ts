import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CommandRecord, EventEnvelope } from '../../ingest/envelope.js';
import { commandRecordLine, eventLine, metadataJson } from '../../ingest/logLines.js';

const text = fc.string({ unit: 'binary' });
const iso = fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString());

const envelope: fc.Arbitrary<EventEnvelope> = fc.record({
  eventId: fc.uuid(),
  eventType: text,
  aggregateId: text,
  aggregateType: text,
  version: fc.nat(),
  timestamp: iso,
  correlationId: text,
  causationId: text,
  data: fc.dictionary(text, fc.jsonValue()),
  schemaVersion: fc.nat(),
  metadata: fc.dictionary(text, fc.jsonValue()),
  partition: fc.nat(255),
  sequence: fc.nat(),
  ingestedAt: iso,
});

const record: fc.Arbitrary<CommandRecord> = fc.record({
  sequence: fc.nat(),
  commandId: text,
  commandName: fc.option(text),
  status: fc.constantFrom('completed' as const, 'rejected' as const),
  code: fc.option(fc.constantFrom('schema' as const, 'no_change' as const)),
  message: fc.option(text),
  path: fc.option(text),
  eventIds: fc.array(fc.uuid(), { maxLength: 3 }),
  aggregateType: fc.option(text),
  aggregateId: fc.option(text),
  received: fc.option(iso),
  correlationId: fc.option(text),
  source: text,
  recordedAt: iso,
});

describe('log lines', () => {
  it('an event line is exactly what JSON.stringify writes for the envelope', () => {
    fc.assert(fc.property(envelope, (e) => {
        expect(eventLine(e)).toBe(JSON.stringify(e));
      }));
  });

  it('an event without data is written by JSON.stringify rules', () => {
    const e = fc.sample(envelope, 1)[0];
    expect(eventLine({ ...e, data: undefined as never })).toBe(JSON.stringify({ ...e, data: undefined }));
  });

  it('a command record line is exactly what JSON.stringify writes for the record', () => {
    fc.assert(fc.property(record, (r) => {
        expect(commandRecordLine(r)).toBe(JSON.stringify(r));
      }));
  });
});

describe('event metadata', () => {
  it('is exactly what JSON.stringify writes for the metadata with the source added', () => {
    const metadata = fc.option(fc.dictionary(fc.oneof(text, fc.constantFrom('source', '__proto__', '0', '7', 'toJSON')), fc.oneof(fc.jsonValue(), fc.constant(undefined))), { nil: undefined });
    fc.assert(fc.property(metadata, text, (m, source) => {
        expect(metadataJson(m, source)).toBe(JSON.stringify({ ...m, source }));
      }));
  });
});
