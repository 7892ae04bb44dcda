/**
 * The hub partitions the forwarder hashes aggregates onto. An aggregate's events keep their order
 * only while every one of them goes to the same hub partition, so the partition ids are recorded
 * in the forwarder's checkpoint the first time it sends, and nothing goes on once the hub has
 * other partitions (Premium and Dedicated hubs can gain partitions): the forwarder would hash
 * an aggregate's next events onto another partition than its earlier ones, and readers of the
 * two partitions could apply them out of order.
 */
export class HubPartitionsChangedError extends Error {}

/** Throws HubPartitionsChangedError, with what to do, unless `current` is the recorded layout (or none is recorded yet). */
export function checkHubPartitions(hub: string, recorded: string[] | undefined, current: string[]): void {
  if (!recorded || sameIds(recorded, current)) return;
  throw new HubPartitionsChangedError(
    `event hub ${hub} now has ${current.length} partitions; the forwarder has been sending to ${recorded.length} (${recorded.join(', ')}), ` +
      `hashing each aggregate onto one of them, so an aggregate's next events would go to another partition than its earlier ones and could be applied out of order. ` +
      `Nothing more is forwarded or read. To go on, create a new event hub with the partition count you want, set eventHubs.eventHubName to it, ` +
      `run \`eventlake forward\` (the new hub gets the whole lake log, from its own checkpoint), then \`eventlake rebuild JOB\` for each job with source "eventhubs" ` +
      `(each catches up from the lake and hands over to the new hub). See docs/azure.md, "Hub partitions".`,
  );
}

function sameIds(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}
