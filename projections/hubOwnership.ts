import type { Checkpoint, CheckpointStore, PartitionOwnership } from '@azure/event-hubs';
import type { EventHubsConfig } from '../lake/stream/eventHubsConnection.js';

/**
 * The checkpoint store a hub-reading job gives the SDK: ownership (which instance reads which
 * partition) is the shared store's, e.g. a BlobCheckpointStore, so instances balance the hub's
 * partitions between them; but where a partition resumes is the job's table, whose Delta commit
 * holds the position with the output. So no checkpoint is ever kept in the store: when the SDK
 * asks for checkpoints (right before it starts reading a partition it claimed), the start
 * positions it falls back to are refreshed from the table, and none are returned.
 *
 * Even a stale start position is safe: the table's position is checked again on every batch,
 * so events before it are skipped; refreshing only spares re-reading them.
 */
export function resumeFromTable(ownership: CheckpointStore, refreshStartPositions: () => Promise<void>): CheckpointStore {
  return {
    listOwnership: (namespace: string, hub: string, group: string): Promise<PartitionOwnership[]> => ownership.listOwnership(namespace, hub, group),
    claimOwnership: (claims: PartitionOwnership[]): Promise<PartitionOwnership[]> => ownership.claimOwnership(claims),
    async listCheckpoints(): Promise<Checkpoint[]> {
      await refreshStartPositions();
      return [];
    },
    async updateCheckpoint(): Promise<void> {
      // Positions are committed with the output (see HubJobTable); nothing to keep here.
    },
  };
}

/** The configured ownership store: a BlobCheckpointStore over the container, or none. */
export async function openOwnershipStore(config: EventHubsConfig['ownership']): Promise<CheckpointStore | undefined> {
  if (!config) return undefined;
  const [{ BlobCheckpointStore }, { ContainerClient }] = await Promise.all([import('@azure/eventhubs-checkpointstore-blob'), import('@azure/storage-blob')]);
  if (config.connectionString && config.container) return new BlobCheckpointStore(new ContainerClient(config.connectionString, config.container));
  if (config.containerUrl) {
    const { DefaultAzureCredential } = await import('@azure/identity');
    return new BlobCheckpointStore(new ContainerClient(config.containerUrl, new DefaultAzureCredential()));
  }
  throw new Error('eventHubs.ownership: give connectionString and container, or containerUrl (for DefaultAzureCredential)');
}
