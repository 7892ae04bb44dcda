import type { EventData } from '@azure/event-hubs';

/**
 * An event larger than one hub message cannot be published. Instead of stopping the forwarder
 * (every round would fail on it again) or leaving it out (a hub reader would silently miss it),
 * the forwarder publishes a claim check in its place: a small message with the same
 * properties plus `claimCheck: true`, whose body is the envelope without `data` and `metadata`.
 * The lake is the system of record: a reader takes the whole event from the lake log at
 * (lakePartition, lakeSequence). The forwarder also records each one (OversizedEvent) in its
 * checkpoint, which `eventlake status` shows.
 */
export interface OversizedEvent {
  stream: string;
  sequence: number;
  eventId: string;
  eventType: string;
  aggregateId: string;
  /** Size of the event as one hub message would carry it, as the SDK measured it (at least). */
  bytes: number;
  /** The hub's message limit it exceeded. */
  limit: number;
  at: string;
}

/** Oversized events kept in the checkpoint (the newest); `oversizedCount` counts them all. */
const OVERSIZED_KEPT = 100;

export function keepRecentOversized(events: OversizedEvent[]): OversizedEvent[] {
  return events.slice(-OVERSIZED_KEPT);
}

/** The message sent in place of `event`: everything but the envelope's `data` and `metadata`. */
export function claimCheckFor(event: EventData): EventData {
  const { data: _data, metadata: _metadata, ...rest } = event.body as Record<string, unknown>;
  return { ...event, body: { ...rest, claimCheck: true }, properties: { ...event.properties, claimCheck: true } };
}

export function isClaimCheck(properties: Record<string, unknown> | undefined): boolean {
  return properties?.claimCheck === true;
}
