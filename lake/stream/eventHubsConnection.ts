import { EventHubProducerClient, parseEventHubConnectionString } from '@azure/event-hubs';
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
}

export interface EventHubsProducer {
  producer: EventHubProducerClient;
  hubName: string;
  /** Secret values to keep out of messages (the connection string and its key). */
  secrets: string[];
}

export const CONNECTION_STRING_ENV = 'EVENTLAKE_EVENTHUBS_CONNECTION_STRING';

export async function openProducer(config: EventHubsConfig = {}, env: NodeJS.ProcessEnv = process.env): Promise<EventHubsProducer> {
  const connectionString = config.connectionString ?? (config.fullyQualifiedNamespace ? undefined : env[CONNECTION_STRING_ENV]);
  if (connectionString) {
    const secrets = [connectionString];
    try {
      const parsed = parseEventHubConnectionString(connectionString);
      if (parsed.sharedAccessKey) secrets.push(parsed.sharedAccessKey);
      if (parsed.sharedAccessSignature) secrets.push(parsed.sharedAccessSignature);
      const hubName = parsed.eventHubName ?? config.eventHubName;
      if (!hubName) throw new Error('the connection string has no EntityPath and no eventHubName is configured');
      const producer = parsed.eventHubName
        ? new EventHubProducerClient(connectionString)
        : new EventHubProducerClient(connectionString, hubName);
      return { producer, hubName, secrets };
    } catch (error) {
      throw new Error(`Event Hubs connection string: ${redact((error as Error).message, secrets)}`);
    }
  }
  if (config.fullyQualifiedNamespace && config.eventHubName) {
    const { DefaultAzureCredential } = await import('@azure/identity');
    const producer = new EventHubProducerClient(config.fullyQualifiedNamespace, config.eventHubName, new DefaultAzureCredential());
    return { producer, hubName: config.eventHubName, secrets: [] };
  }
  throw new Error(
    `Event Hubs: set eventHubs.connectionString (or ${CONNECTION_STRING_ENV}), or eventHubs.fullyQualifiedNamespace and eventHubs.eventHubName for DefaultAzureCredential`,
  );
}
