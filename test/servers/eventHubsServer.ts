/**
 * Event Hubs test server: a loopback AMQP 1.0 endpoint (built on rhea) that the REAL
 * `@azure/event-hubs` SDK talks to with a development-emulator connection string
 * (`...;UseDevelopmentEmulator=true`: plain TCP on the endpoint's port, SASL ANONYMOUS).
 * A test fixture only: the product never imports it.
 *
 * Serves one event hub with N in-memory partitions:
 * - `$cbs` put-token (any token accepted; the audience is remembered per connection, and a
 *   link to an entity is refused with amqp:unauthorized-access unless a token covers it);
 * - `$management` READ of `com.microsoft:eventhub` and `com.microsoft:partition`;
 * - sending to `hub` (routed by partition key, else round-robin) or `hub/Partitions/N`,
 *   batched (format 0x80013700) or single messages;
 * - receiving from `hub/ConsumerGroups/G/Partitions/N` from the selector-filter start
 *   position, under the client's credit, live as events arrive, with owner levels
 *   (`com.microsoft:epoch`: a higher or equal level takes the partition over with
 *   amqp:link:stolen), at most 5 receivers without an owner level per partition and
 *   consumer group, and last-enqueued runtime metrics when asked for;
 * - retention on demand (`expire`): the beginning sequence number moves, a start position
 *   past the last enqueued event is refused with com.microsoft:argument-out-of-range;
 * - the message size limit (1 MiB, the Standard tier's): a larger transfer is rejected with
 *   amqp:link:message-size-exceeded;
 * - partitions added to a running hub (`addPartitions`), as Premium and Dedicated allow.
 * Not served: idempotent publishing, geo-replication, `$management` other than READ,
 * TLS/WebSockets, AAD tokens (any token works), throttling, time-based retention.
 */
import type { AddressInfo, Server, Socket } from 'node:net';
import rhea, {
  type Connection, type EventContext, type Message, type Receiver, type Sender, type ServerConnectionOptions,
} from 'rhea';
import {
  eventsInTransfer, messageSizeExceeded, parseAddress, partitionKeyOf, replyTo, type EntityAddress,
} from './eventHubsAmqp.js';
import { Partition, parseStartFilter, partitionForKey, StartPositionError, type StoredEvent } from './eventHubsPartitions.js';
import { PartitionReader, Readers } from './eventHubsReaders.js';

export interface EventHubsServerOptions {
  /** Number of partitions, ids "0".."N-1". Default 4. */
  partitions?: number;
  /** The event hub's name (EntityPath). Default "hub". */
  hubName?: string;
  /** Consumer groups that exist besides `$Default`. */
  consumerGroups?: string[];
  /** Largest transfer accepted, in bytes. Default 1 MiB (Standard; Basic is 256 KiB). */
  maxMessageSize?: number;
}

export interface EventHubsServer {
  /** `Endpoint=sb://127.0.0.1:PORT;...;EntityPath=HUB;UseDevelopmentEmulator=true` */
  connectionString: string;
  port: number;
  hubName: string;
  /** The events a partition still retains, in order. */
  events(partition: string): readonly StoredEvent[];
  /** The sequence number of the last event ever enqueued in a partition (-1: never used). */
  lastSequence(partition: string): number;
  /** Retention: the oldest `count` events of a partition expire. */
  expire(partition: string, count: number): void;
  /** Adds partitions to the hub (ids continue from the current count). */
  addPartitions(count: number): void;
  /** How many receivers (of any consumer group) are attached to a partition now. */
  receivers(partition: string): number;
  /** Stops listening and drops every client connection. */
  close(): Promise<void>;
}

/** 1 MiB, the Standard tier's limit; sendBatch sizes its batches from what the link advertises. */
const STANDARD_MAX_MESSAGE_SIZE = 1024 * 1024;

interface ConnectionState {
  audiences: string[];
  replyLinks: Map<string, Sender>;
}

/** Starts the server on 127.0.0.1 with a free port. Also exported as `startEventHubsServer`. */
export async function start(options: EventHubsServerOptions = {}): Promise<EventHubsServer> {
  const hubName = options.hubName ?? 'hub';
  const maxMessageSize = options.maxMessageSize ?? STANDARD_MAX_MESSAGE_SIZE;
  const createdAt = new Date();
  const partitions = Array.from({ length: options.partitions ?? 4 }, (_, i) => new Partition(String(i)));
  const consumerGroups = new Set(['$default', ...(options.consumerGroups ?? []).map((g) => g.toLowerCase())]);
  const readers = new Readers();
  const connections = new WeakMap<Connection, ConnectionState>();
  let roundRobin = 0;
  let endpoint = 'sb://127.0.0.1';

  const container = rhea.create_container({ id: 'eventhubs-test-server' });
  container.sasl_server_mechanisms.enable_anonymous();

  const stateOf = (connection: Connection): ConnectionState => {
    let state = connections.get(connection);
    if (!state) connections.set(connection, (state = { audiences: [], replyLinks: new Map() }));
    return state;
  };

  /**
   * Finds the entity an address names, or the error Azure gives. The SDK classifies a
   * missing entity by the description's wording ("The messaging entity '...' could not be
   * found"), not by the condition, so the wording is the service's.
   */
  const resolve = (address: EntityAddress, connection: Connection, rawAddress: string)
    : { partition?: Partition; error?: { condition: string; description: string } } => {
    const notFound = (entity: string) => ({
      error: { condition: 'amqp:not-found', description: `The messaging entity '${endpoint}/${entity}' could not be found.` },
    });
    if (address.kind === 'unknown' || address.kind === 'cbs' || address.kind === 'management') return notFound(rawAddress);
    if (address.hub.toLowerCase() !== hubName.toLowerCase()) return notFound(address.hub);
    if (!isAuthorized(stateOf(connection).audiences, rawAddress)) {
      return { error: { condition: 'amqp:unauthorized-access', description: `Unauthorized access to '${rawAddress}': no put-token covers it.` } };
    }
    if (address.kind === 'consumer' && !consumerGroups.has(address.consumerGroup.toLowerCase())) {
      return notFound(`${address.hub}/consumergroups/${address.consumerGroup}`);
    }
    if (address.kind === 'hub') return {};
    const partition = partitions.find((p) => p.id === address.partition);
    if (!partition) {
      return {
        error: {
          condition: 'com.microsoft:argument-out-of-range',
          description: `The specified partition is invalid for an EventHub partition sender or receiver. It should be between 0 and ${partitions.length - 1}.`,
        },
      };
    }
    return { partition };
  };

  // Our sender = the client's receiver: a reply link, or a reader of a partition.
  container.on('sender_open', (context: EventContext) => {
    const sender = context.sender!;
    const source = sender.source;
    sender.set_source(source);
    sender.set_target(sender.target);
    const address = parseAddress(source?.address);
    if (address.kind === 'cbs' || address.kind === 'management') {
      const state = stateOf(context.connection);
      // Replies go to the link whose name (or target address) the request's reply-to names.
      state.replyLinks.set(sender.name, sender);
      if (sender.target?.address) state.replyLinks.set(sender.target.address, sender);
      return;
    }
    const { partition, error } = resolve(address, context.connection, source?.address ?? '');
    if (error || !partition || address.kind !== 'consumer') {
      return sender.close(error ?? { condition: 'amqp:not-allowed', description: 'Receive from a consumer group partition.' });
    }
    // Events go out settled, as the service sends them: a client that ends its session does not
    // then get dispositions for a session it already closed.
    (sender as Sender & { local: { attach: { snd_settle_mode: number } } }).local.attach.snd_settle_mode = 1;
    let start: number;
    try {
      const selector = selectorOf(source);
      start = selector === undefined ? partition.beginSequence : parseStartFilter(selector)(partition);
    } catch (err) {
      const condition = err instanceof StartPositionError ? err.condition : 'amqp:invalid-field';
      return sender.close({ condition, description: (err as Error).message });
    }
    const epoch = sender.properties?.['com.microsoft:epoch'];
    const reader = new PartitionReader(
      sender, context.connection, partition, address.consumerGroup, start,
      epoch === undefined ? undefined : Number(epoch),
      capabilities(sender.desired_capabilities).includes('com.microsoft:enable-receiver-runtime-metric'),
    );
    const refusal = readers.admit(reader);
    if (refusal) sender.close(refusal);
  });

  container.on('sendable', (context: EventContext) => readers.of(context.sender!)?.pump());
  container.on('sender_close', (context: EventContext) => {
    const reader = readers.of(context.sender!);
    if (reader) readers.remove(reader);
  });
  container.on('disconnected', (context: EventContext) => {
    for (const reader of readers.all()) if (reader.connection === context.connection) readers.remove(reader);
  });

  // Our receiver = the client's sender: a request link, or a publisher.
  container.on('receiver_open', (context: EventContext) => {
    const receiver = context.receiver!;
    receiver.set_source(receiver.source);
    receiver.set_target(receiver.target);
    const address = parseAddress(receiver.target?.address);
    if (address.kind === 'cbs' || address.kind === 'management') return;
    const { error } = resolve(address, context.connection, receiver.target?.address ?? '');
    if (error || address.kind === 'consumer') {
      return receiver.close(error ?? { condition: 'amqp:not-allowed', description: 'Send to the hub or to a partition.' });
    }
    (receiver as Receiver & { local: { attach: { max_message_size: number } } }).local.attach.max_message_size = maxMessageSize;
  });

  container.on('message', (context: EventContext) => {
    const receiver = context.receiver!;
    const delivery = context.delivery!;
    const address = parseAddress(receiver.target?.address);
    try {
      if (address.kind === 'cbs') return answer(context, onPutToken(context));
      if (address.kind === 'management') return answer(context, onManagement(context.message!));
      const payload = context.message as Message | Buffer;
      const size = Buffer.isBuffer(payload) ? payload.length : rhea.message.encode(payload).length;
      if (size > maxMessageSize) {
        // The service's disposition for a transfer over the link's limit (the whole batch counts).
        return delivery.reject({
          condition: messageSizeExceeded,
          description: `The received message (delivery-id:${delivery.id}, size:${size} bytes) exceeds the limit (${maxMessageSize} bytes) currently allowed on the link.`,
        });
      }
      const events = eventsInTransfer(payload, (context as { format?: number }).format);
      const partition = address.kind === 'partition'
        ? partitions.find((p) => p.id === address.partition)!
        : route(partitionKeyOf(events));
      for (const { message, size } of events) partition.append(message, size);
      delivery.accept();
    } catch (err) {
      delivery.reject({ condition: 'amqp:internal-error', description: (err as Error).message });
    }
  });

  const route = (partitionKey: string | undefined): Partition =>
    partitions[partitionKey === undefined
      ? roundRobin++ % partitions.length
      : partitionForKey(partitionKey, partitions.length)];

  const onPutToken = (context: EventContext): Message => {
    const request = context.message!;
    const props = request.application_properties ?? {};
    if (props.operation !== 'put-token' || typeof props.name !== 'string') {
      return replyTo(request, 400, 'Expected a put-token request with an audience name.');
    }
    stateOf(context.connection).audiences.push(props.name);
    return replyTo(request, 202, 'Accepted');
  };

  const onManagement = (request: Message): Message => {
    const props = request.application_properties ?? {};
    if (props.operation !== 'READ') return replyTo(request, 400, `Unsupported operation ${props.operation}.`);
    if (String(props.name).toLowerCase() !== hubName.toLowerCase()) {
      return replyTo(request, 404, `The messaging entity '${props.name}' could not be found.`);
    }
    if (props.type === 'com.microsoft:eventhub') {
      return replyTo(request, 200, 'OK', {
        name: hubName,
        type: 'com.microsoft:eventhub',
        created_at: createdAt,
        partition_count: partitions.length,
        partition_ids: partitions.map((p) => p.id),
      });
    }
    if (props.type === 'com.microsoft:partition') {
      const partition = partitions.find((p) => p.id === String(props.partition));
      if (!partition) return replyTo(request, 404, `The partition '${props.partition}' could not be found.`);
      return replyTo(request, 200, 'OK', partition.properties(hubName));
    }
    return replyTo(request, 400, `Unsupported type ${props.type}.`);
  };

  const answer = (context: EventContext, reply: Message) => {
    context.delivery!.accept();
    const link = stateOf(context.connection).replyLinks.get(String(context.message!.reply_to));
    if (link?.is_open()) link.send(reply);
  };

  const partitionOf = (id: string): Partition => {
    const partition = partitions.find((p) => p.id === id);
    if (!partition) throw new Error(`no partition ${id}`);
    return partition;
  };

  const sockets = new Set<Socket>();
  // autoaccept off: a transfer is settled only once it is stored (accepted) or refused (rejected).
  const listenOptions = { port: 0, host: '127.0.0.1', autoaccept: false } as ServerConnectionOptions;
  const server: Server = container.listen(listenOptions);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  endpoint = `sb://127.0.0.1:${port}`;

  return {
    connectionString: `Endpoint=sb://127.0.0.1:${port};SharedAccessKeyName=test;SharedAccessKey=test;EntityPath=${hubName};UseDevelopmentEmulator=true`,
    port,
    hubName,
    events: (id) => partitionOf(id).events,
    lastSequence: (id) => partitionOf(id).lastEnqueuedSequence,
    expire: (id, count) => partitionOf(id).expire(count),
    addPartitions: (count) => {
      for (let i = 0; i < count; i++) partitions.push(new Partition(String(partitions.length)));
    },
    receivers: (id) => readers.all().filter((r) => r.partition.id === id && r.sender.is_open()).length,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

/** A put-token for an audience covers that entity and everything below it. */
function isAuthorized(audiences: string[], address: string): boolean {
  const path = entityPath(address);
  return audiences.some((audience) => {
    const covered = entityPath(audience);
    return covered === '' || path === covered || path.startsWith(`${covered}/`);
  });
}

function entityPath(address: string): string {
  return address.replace(/^[a-z]+:\/\/[^/]+/i, '').replace(/^\/+|\/+$/g, '').toLowerCase();
}

function selectorOf(source: { filter?: Record<string, unknown> } | undefined): string | undefined {
  const filter = source?.filter?.['apache.org:selector-filter:string'];
  if (filter === undefined) return undefined;
  const value = typeof filter === 'object' && filter !== null && 'value' in filter ? (filter as { value: unknown }).value : filter;
  return String(value);
}

function capabilities(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

export { start as startEventHubsServer };
