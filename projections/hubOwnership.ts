import { createHash, randomUUID } from 'node:crypto';
import type { Checkpoint, CheckpointStore, PartitionOwnership } from '@azure/event-hubs';
import type { EventHubsConfig } from '../lake/stream/eventHubsConnection.js';

/**
 * Which hub jobs a process reads for: the owner id it claims partitions under starts with a tag of
 * its job names, so an instance can tell instances of its own kind (same jobs: they share the
 * partitions) from another kind on the same consumer group (see OwnershipConflictError).
 */
export function jobSetTag(jobNames: string[]): string {
  return createHash('sha256').update([...jobNames].sort().join('\n')).digest('hex').slice(0, 12);
}

export function ownerIdFor(tag: string): string {
  return `${tag}.${randomUUID()}`;
}

/**
 * Two processes reading one consumer group for different sets of jobs would each own some of
 * the partitions, and each job would be fed only the partitions its process owns; two receivers
 * with the same owner level on one partition also take it from each other in turn. So a process
 * refuses to read a consumer group in which another kind of instance holds a partition.
 */
export class OwnershipConflictError extends Error {}

/**
 * The checkpoint store the hub reader gives the SDK: ownership (which instance reads which
 * partition) is the shared store's, e.g. a BlobCheckpointStore, so instances balance the hub's
 * partitions between them; but where a partition resumes is in the jobs' tables, whose Delta
 * commits hold the positions with the output. So no checkpoint is ever kept in the store: when
 * the SDK asks for checkpoints (right before it starts reading a partition it claimed), the
 * start positions it falls back to are refreshed from the tables, and none are returned.
 *
 * Even a stale start position is safe: each table's position is checked again on every batch,
 * so events before it are skipped; refreshing only spares re-reading them.
 */
export function resumeFromTable(
  ownership: CheckpointStore,
  refreshStartPositions: () => Promise<void>,
  owner?: { tag: string; jobs: string[]; expirationMs: number },
): CheckpointStore {
  return {
    async listOwnership(namespace: string, hub: string, group: string): Promise<PartitionOwnership[]> {
      const owned = await ownership.listOwnership(namespace, hub, group);
      if (owner) refuseOtherKinds(owned, owner, group);
      return owned;
    },
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

function refuseOtherKinds(owned: PartitionOwnership[], owner: { tag: string; jobs: string[]; expirationMs: number }, group: string): void {
  const now = Date.now();
  const live = owned.filter((o) => o.ownerId && now - (o.lastModifiedTimeInMs ?? 0) < owner.expirationMs);
  const other = live.find((o) => !o.ownerId.startsWith(`${owner.tag}.`));
  if (!other) return;
  throw new OwnershipConflictError(
    `consumer group ${group} of event hub ${other.eventHubName}: partition ${other.partitionId} is owned by ${other.ownerId}, an instance reading for other jobs than this one ` +
      `(${owner.jobs.join(', ')}). All instances that share a consumer group must run the same jobs: give each set of jobs its own consumer group ` +
      `(eventHubs.consumerGroup, created on the hub), or run them together in one \`eventlake consume\`.`,
  );
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
