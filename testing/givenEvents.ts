import type { Event } from '../domains/events.js';
import type { EventEnvelope } from '../ingest/envelope.js';

/**
 * An event as a test gives it: the domain event plus the aggregate it belongs to and, when it
 * matters (histories, `*_as_of` views), its business time. The rest of the envelope is filled in
 * as the ingester would: versions gap-free per aggregate, sequences in the order given.
 */
export type GivenEvent<E extends Event = Event> = E extends Event
  ? E & { aggregateType: string; aggregateId: string; timestamp?: string; metadata?: Record<string, unknown> }
  : never;

/** Business time of given events without a timestamp: one minute apart from this instant. */
export const GIVEN_EVENTS_START = '2026-01-01T00:00:00.000Z';

/** The log's envelopes for these events, in the order given. */
export function logEnvelopes(events: readonly GivenEvent[]): EventEnvelope[] {
  const versions = new Map<string, number>();
  return events.map((event, i) => {
    const aggregate = `${event.aggregateType}|${event.aggregateId}`;
    const version = (versions.get(aggregate) ?? 0) + 1;
    versions.set(aggregate, version);
    const timestamp = event.timestamp === undefined ? new Date(Date.parse(GIVEN_EVENTS_START) + i * 60_000).toISOString() : canonicalTime(event.timestamp, i);
    const sequence = i + 1;
    return {
      eventId: `00000000-0000-4000-8000-${String(sequence).padStart(12, '0')}`,
      eventType: event.eventType,
      aggregateId: event.aggregateId,
      aggregateType: event.aggregateType,
      version,
      timestamp,
      correlationId: `given-${sequence}`,
      causationId: `given-${sequence}`,
      data: { ...event.data } as Record<string, unknown>,
      schemaVersion: 1,
      metadata: event.metadata ?? {},
      partition: 0,
      sequence,
      ingestedAt: timestamp,
    };
  });
}

/** As the ingester stores `received`: ISO-8601 UTC, a time without an offset taken as UTC. */
function canonicalTime(text: string, index: number): string {
  const withT = text.replace(' ', 'T');
  const date = new Date(/(Z|[+-]\d\d:?\d\d)$/.test(withT) ? withT : `${withT}Z`);
  if (Number.isNaN(date.getTime())) throw new Error(`given event ${index + 1}: timestamp "${text}" is not a date-time`);
  return date.toISOString();
}
