/**
 * The guard that keeps processes of different hub jobs off one consumer group (see
 * projections/hubOwnership.ts), on plain ownership records as the SDK's store lists them.
 */
import type { CheckpointStore, PartitionOwnership } from '@azure/event-hubs';
import { describe, expect, test } from 'vitest';
import { jobSetTag, ownerIdFor, OwnershipConflictError, resumeFromTable } from '../../projections/hubOwnership.js';
import { checkHubPartitions, HubPartitionsChangedError } from '../../lake/stream/hubPartitionLayout.js';

const JOBS = ['orders', 'superchargers'];
const tag = jobSetTag(JOBS);

function storeWith(owned: Partial<PartitionOwnership>[]): CheckpointStore {
  const records = owned.map((o, i) => ({
    fullyQualifiedNamespace: 'ns', eventHubName: 'hub', consumerGroup: '$default', partitionId: String(i), ownerId: '', lastModifiedTimeInMs: Date.now(), ...o,
  }));
  return {
    listOwnership: async () => records,
    claimOwnership: async (claims) => claims,
    listCheckpoints: async () => [],
    updateCheckpoint: async () => {},
  };
}

const guarded = (owned: Partial<PartitionOwnership>[]) =>
  resumeFromTable(storeWith(owned), async () => {}, { tag, jobs: JOBS, expirationMs: 60_000 }).listOwnership('ns', 'hub', '$default');

describe('one kind of instance per consumer group', () => {
  test('the tag names the set of jobs, in any order', () => {
    expect(jobSetTag(['superchargers', 'orders'])).toBe(tag);
    expect(jobSetTag(['superchargers'])).not.toBe(tag);
    expect(ownerIdFor(tag)).toMatch(new RegExp(`^${tag}\\.[0-9a-f-]{36}$`));
  });

  test('instances of the same jobs, released partitions and expired owners are no conflict', async () => {
    await expect(guarded([{ ownerId: ownerIdFor(tag) }, { ownerId: '' }, { ownerId: 'someone-else', lastModifiedTimeInMs: Date.now() - 120_000 }])).resolves.toHaveLength(3);
  });

  test('a live owner of other jobs is refused, saying what to do', async () => {
    await expect(guarded([{ ownerId: ownerIdFor(tag) }, { ownerId: ownerIdFor(jobSetTag(['superchargers'])) }]))
      .rejects.toThrow(OwnershipConflictError);
    await expect(guarded([{ ownerId: 'an-older-consumer' }]))
      .rejects.toThrow(/partition 0 is owned by an-older-consumer, an instance reading for other jobs than this one \(orders, superchargers\)\. .*its own consumer group/);
  });
});

describe('the hub partitions the forwarder hashes onto', () => {
  test('the same ids, or none recorded yet, go on; any other layout is refused with what to do', () => {
    expect(() => checkHubPartitions('hub', undefined, ['0', '1'])).not.toThrow();
    expect(() => checkHubPartitions('hub', ['0', '1'], ['0', '1'])).not.toThrow();
    expect(() => checkHubPartitions('hub', ['0', '1'], ['0', '1', '2'])).toThrow(HubPartitionsChangedError);
    expect(() => checkHubPartitions('hub', ['0', '1'], ['1', '0'])).toThrow(/create a new event hub .*eventlake rebuild JOB/);
  });
});
