import type { CommandRecord, EventEnvelope } from './envelope.js';

/*
 * The ingester's two log records as JSON lines, byte for byte what JSON.stringify writes for the
 * same objects (a unit test holds them to that), but built from a template with the field names
 * fixed: JSON.stringify walks and checks every key and value of the generic object, which made
 * encoding a quarter of ingest's time. Only free-form parts (event data, metadata) and strings a
 * client chose go through JSON.stringify. Fields written between bare quotes are made by the
 * ingester itself (uuids, ISO timestamps) and never need escaping.
 */

const json = JSON.stringify;

export function eventLine(e: EventEnvelope): string {
  // Data JSON cannot represent (undefined, a function) is left to JSON.stringify's own rules.
  if (e.data === undefined || typeof e.data === 'function') return json(e);
  return eventLineOf(e, e, json(e.metadata));
}

/** What every event of one command shares in its envelope. */
export type EventContext = Pick<EventEnvelope, 'aggregateId' | 'aggregateType' | 'timestamp' | 'correlationId' | 'causationId' | 'partition' | 'ingestedAt'>;

/** What is each event's own. */
export type EventOwn = Pick<EventEnvelope, 'eventId' | 'eventType' | 'version' | 'data' | 'schemaVersion' | 'sequence'>;

/**
 * The event line of `own` within `context`, with the metadata already as JSON: the ingester
 * writes an event without building its envelope object or its metadata object (the two were
 * 2 of every command's allocations). Data must be a JSON object (a domain's events are).
 */
export function eventLineOf(context: EventContext, own: EventOwn, metadataJson: string): string {
  return (
    `{"eventId":"${own.eventId}","eventType":${json(own.eventType)},"aggregateId":${json(context.aggregateId)},"aggregateType":${json(context.aggregateType)},` +
    `"version":${own.version},"timestamp":"${context.timestamp}","correlationId":${json(context.correlationId)},"causationId":${json(context.causationId)},` +
    `"data":${json(own.data)},"schemaVersion":${own.schemaVersion},"metadata":${metadataJson},"partition":${context.partition},` +
    `"sequence":${own.sequence},"ingestedAt":"${context.ingestedAt}"}`
  );
}

/**
 * Exactly `JSON.stringify({ ...metadata, source })`, without the copy: the client's metadata
 * with the ingester's `source` last (or in place of the client's own `source`).
 */
export function metadataJson(metadata: Record<string, unknown> | undefined, source: string): string {
  if (metadata === undefined) return `{"source":${json(source)}}`;
  if (Object.hasOwn(metadata, 'source')) return json({ ...metadata, source });
  const own = json(metadata);
  return own === '{}' ? `{"source":${json(source)}}` : `${own.slice(0, -1)},"source":${json(source)}}`;
}

export function commandRecordLine(r: CommandRecord): string {
  return (
    `{"sequence":${r.sequence},"commandId":${json(r.commandId)},"commandName":${json(r.commandName)},"status":"${r.status}",` +
    `"code":${json(r.code)},"message":${json(r.message)},"path":${json(r.path)},"eventIds":${eventIdList(r.eventIds)},` +
    `"aggregateType":${json(r.aggregateType)},"aggregateId":${json(r.aggregateId)},"received":${json(r.received)},` +
    `"correlationId":${json(r.correlationId)},"source":${json(r.source)},"recordedAt":"${r.recordedAt}"}`
  );
}

function eventIdList(ids: string[]): string {
  if (ids.length === 0) return '[]';
  if (ids.length === 1) return `["${ids[0]}"]`;
  return `["${ids.join('","')}"]`;
}
