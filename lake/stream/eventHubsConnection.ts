import { EventHubConsumerClient, EventHubProducerClient, parseEventHubConnectionString, type CheckpointStore, type EventHubConsumerClientOptions } from '@azure/event-hubs';
import { redact } from '../redact.js';

/**
 * Where the events go. Either a connection string (a shared access policy; with EntityPath, or
 * with eventHubName) or a namespace plus hub name, authenticated by DefaultAzureCredential
 * (managed identity, workload identity, `az login`, ...). Without either, the connection string
 * comes from EVENTLAKE_EVENTHUBS_CONNECTION_STRING, so it need not sit in a config file.
 */
export interface EventHubsConfig {
  /** `Endpoint=sb://<ns>.servicebus.windows.net/;SharedAccessKeyName=...;SharedAccessKey=...;EntityPath=<hub>` */
  connectionString?: string;
  /** `<ns>.servicebus.windows.net`, for DefaultAzureCredential. */
  fullyQualifiedNamespace?: string;
  eventHubName?: string;
  /** Consumer group of the jobs that read the hub (default `$Default`). */
  consumerGroup?: string;
  /**
   * Blob container where the instances of a hub-reading job claim partitions (see
   * projections/hubOwnership.ts): a storage connection string and container name, or the
   * container's URL for DefaultAzureCredential. Without it, each instance reads every partition.
   */
  ownership?: { connectionString?: string; container?: string; containerUrl?: string };
}

export interface EventHubsProducer {
  producer: EventHubProducerClient;
  hubName: string;
  /** Secret values to keep out of messages (the connection string and its key). */
  secrets: string[];
}

export interface EventHubsConsumer {
  consumer: EventHubConsumerClient;
  hubName: string;
  secrets: string[];
}

export const CONNECTION_STRING_ENV = 'EVENTLAKE_EVENTHUBS_CONNECTION_STRING';

/** How to reach the hub: a connection string, or a namespace with DefaultAzureCredential. */
type Endpoint =
  | { kind: 'connectionString'; connectionString: string; hubName: string; inString: boolean; secrets: string[] }
  | { kind: 'credential'; fullyQualifiedNamespace: string; hubName: string; secrets: string[] };

async function endpointOf(config: EventHubsConfig, env: NodeJS.ProcessEnv): Promise<Endpoint> {
  const connectionString = config.connectionString ?? (config.fullyQualifiedNamespace ? undefined : env[CONNECTION_STRING_ENV]);
  if (connectionString) {
    const secrets = [connectionString];
    try {
      const parsed = parseEventHubConnectionString(connectionString);
      if (parsed.sharedAccessKey) secrets.push(parsed.sharedAccessKey);
      if (parsed.sharedAccessSignature) secrets.push(parsed.sharedAccessSignature);
      const hubName = parsed.eventHubName ?? config.eventHubName;
      if (!hubName) throw new Error('the connection string has no EntityPath and no eventHubName is configured');
      return { kind: 'connectionString', connectionString, hubName, inString: parsed.eventHubName !== undefined, secrets };
    } catch (error) {
      throw new Error(`Event Hubs connection string: ${redact((error as Error).message, secrets)}`);
    }
  }
  if (config.fullyQualifiedNamespace && config.eventHubName) {
    return { kind: 'credential', fullyQualifiedNamespace: config.fullyQualifiedNamespace, hubName: config.eventHubName, secrets: [] };
  }
  throw new Error(
    `Event Hubs: set eventHubs.connectionString (or ${CONNECTION_STRING_ENV}), or eventHubs.fullyQualifiedNamespace and eventHubs.eventHubName for DefaultAzureCredential`,
  );
}

export async function openProducer(config: EventHubsConfig = {}, env: NodeJS.ProcessEnv = process.env): Promise<EventHubsProducer> {
  const endpoint = await endpointOf(config, env);
  if (endpoint.kind === 'credential') {
    const producer = new EventHubProducerClient(endpoint.fullyQualifiedNamespace, endpoint.hubName, await defaultCredential());
    return { producer, hubName: endpoint.hubName, secrets: [] };
  }
  const producer = endpoint.inString
    ? new EventHubProducerClient(endpoint.connectionString)
    : new EventHubProducerClient(endpoint.connectionString, endpoint.hubName);
  return { producer, hubName: endpoint.hubName, secrets: endpoint.secrets };
}

/** A consumer client of the configured consumer group; with `store`, instances share partitions. */
export async function openConsumer(
  config: EventHubsConfig = {},
  store: CheckpointStore | undefined,
  options: EventHubConsumerClientOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<EventHubsConsumer> {
  const endpoint = await endpointOf(config, env);
  const group = config.consumerGroup ?? EventHubConsumerClient.defaultConsumerGroupName;
  const consumer = endpoint.kind === 'credential'
    ? (store
      ? new EventHubConsumerClient(group, endpoint.fullyQualifiedNamespace, endpoint.hubName, await defaultCredential(), store, options)
      : new EventHubConsumerClient(group, endpoint.fullyQualifiedNamespace, endpoint.hubName, await defaultCredential(), options))
    : consumerFromString(group, endpoint, store, options);
  return { consumer, hubName: endpoint.hubName, secrets: endpoint.secrets };
}

function consumerFromString(group: string, endpoint: Extract<Endpoint, { kind: 'connectionString' }>, store: CheckpointStore | undefined, options: EventHubConsumerClientOptions): EventHubConsumerClient {
  const { connectionString, hubName, inString } = endpoint;
  if (inString) return store ? new EventHubConsumerClient(group, connectionString, store, options) : new EventHubConsumerClient(group, connectionString, options);
  return store ? new EventHubConsumerClient(group, connectionString, hubName, store, options) : new EventHubConsumerClient(group, connectionString, hubName, options);
}

async function defaultCredential() {
  const { DefaultAzureCredential } = await import('@azure/identity');
  return new DefaultAzureCredential();
}
