/**
 * The AMQP shapes of the Event Hubs protocol, as the test server reads and writes them:
 * entity addresses, batched transfers, delivery annotations and request/response replies
 * on `$cbs` and `$management`. See docs/azure-test-servers.md for where each fact comes from.
 */
import rhea, { type Message } from 'rhea';
import type { StoredEvent } from './eventHubsPartitions.js';

/** What a link's address names. Entity names are matched case-insensitively, as Azure does. */
export type EntityAddress =
  | { kind: 'cbs' }
  | { kind: 'management' }
  | { kind: 'hub'; hub: string }
  | { kind: 'partition'; hub: string; partition: string }
  | { kind: 'consumer'; hub: string; consumerGroup: string; partition: string }
  | { kind: 'unknown'; address: string };

export function parseAddress(address: string | undefined): EntityAddress {
  if (!address) return { kind: 'unknown', address: '' };
  // Addresses may come as full URLs (`sb://host:port/hub/...`) or as entity paths.
  const path = address.replace(/^[a-z]+:\/\/[^/]+\//i, '');
  if (path === '$cbs') return { kind: 'cbs' };
  if (path === '$management') return { kind: 'management' };
  const parts = path.split('/');
  const is = (i: number, word: string) => parts[i]?.toLowerCase() === word;
  if (parts.length === 1 && parts[0]) return { kind: 'hub', hub: parts[0] };
  if (parts.length === 3 && is(1, 'partitions')) {
    return { kind: 'partition', hub: parts[0], partition: parts[2] };
  }
  if (parts.length === 5 && is(1, 'consumergroups') && is(3, 'partitions')) {
    return { kind: 'consumer', hub: parts[0], consumerGroup: parts[2], partition: parts[4] };
  }
  return { kind: 'unknown', address };
}

/** The SDKs batch with this message format: an envelope whose data sections are messages. */
export const batchMessageFormat = 0x80013700;

/**
 * The events in one transfer. A batch (format 0x80013700) arrives from rhea as the raw
 * envelope bytes; each of its data sections is one complete encoded message.
 */
export function eventsInTransfer(payload: Message | Buffer, format: number | undefined)
  : { message: Message; size: number }[] {
  if (!Buffer.isBuffer(payload)) {
    return [{ message: payload, size: rhea.message.encode(payload).length }];
  }
  if (format !== batchMessageFormat) throw new Error(`unsupported message format ${format}`);
  const envelope = decode(payload);
  const body = envelope.body as { typecode?: number; content?: unknown; multiple?: boolean };
  if (body?.typecode !== 0x75) throw new Error('batch envelope without data sections');
  const sections = (body.multiple ? body.content : [body.content]) as Buffer[];
  return sections.map((section) => ({ message: decode(section), size: section.length }));
}

/** rhea's typings give `message.decode` a bodiless type; at run time it is a full Message. */
const decode = rhea.message.decode as unknown as (buffer: Buffer) => Message;

/** The partition key a transfer asks to be routed by (set on the envelope and on each event). */
export function partitionKeyOf(messages: { message: Message }[]): string | undefined {
  const key = messages[0]?.message.message_annotations?.['x-opt-partition-key'];
  return typeof key === 'string' ? key : undefined;
}

/** The publisher's message with the service annotations every received event carries. */
export function deliveryOf(event: StoredEvent, lastEnqueued?: StoredEvent): Message {
  const annotations: Record<string, unknown> = {
    ...event.message.message_annotations,
    'x-opt-sequence-number': rhea.types.wrap_long(event.sequenceNumber),
    'x-opt-offset': event.offset,
    'x-opt-enqueued-time': event.enqueuedTime,
  };
  if (event.partitionKey !== undefined) annotations['x-opt-partition-key'] = event.partitionKey;
  const message: Message = { ...event.message, message_annotations: annotations };
  if (lastEnqueued) {
    // Sent when the receiver asked for `com.microsoft:enable-receiver-runtime-metric`.
    message.delivery_annotations = {
      last_enqueued_sequence_number: rhea.types.wrap_long(lastEnqueued.sequenceNumber),
      last_enqueued_offset: lastEnqueued.offset,
      last_enqueued_time_utc: lastEnqueued.enqueuedTime,
      runtime_info_retrieval_time_utc: new Date(),
    };
  }
  return message;
}

/** A `$cbs` / `$management` reply: status in application properties, correlated by message id. */
export function replyTo(request: Message, status: number, description: string, body?: unknown): Message {
  return {
    correlation_id: request.message_id,
    to: request.reply_to,
    application_properties: { 'status-code': status, 'status-description': description },
    // rhea writes an amqp-value section even for no body; null is what "no data" encodes as.
    body: body ?? null,
  };
}

/** The link error Event Hubs uses when a higher owner level takes a partition over. */
export const linkStolen = 'amqp:link:stolen';

/** The error of a quota: too many receivers on a partition of a consumer group. */
export const resourceLimitExceeded = 'amqp:resource-limit-exceeded';

/** The disposition error of a transfer larger than the link's max_message_size. */
export const messageSizeExceeded = 'amqp:link:message-size-exceeded';
