/**
 * Test helpers around the real Event Hubs SDK: receive until a condition holds, with the
 * test's own timeout as the only clock (no assertions on timing).
 */
import type {
  EventHubConsumerClient, PartitionContext, ReceivedEventData, SubscribeOptions,
} from '@azure/event-hubs';

export interface Received {
  event: ReceivedEventData;
  partitionId: string;
}

/**
 * Subscribes (to every partition, or to one) and resolves with what arrived once `done`
 * says so; fails on the first error the SDK reports.
 */
export async function receiveUntil(
  consumer: EventHubConsumerClient,
  done: (received: Received[]) => boolean,
  options: SubscribeOptions & { partitionId?: string } = {},
): Promise<Received[]> {
  const received: Received[] = [];
  let finish!: () => void;
  let fail!: (error: Error) => void;
  const finished = new Promise<void>((resolve, reject) => { finish = resolve; fail = reject; });
  const handlers = {
    processEvents: async (events: ReceivedEventData[], context: PartitionContext) => {
      for (const event of events) received.push({ event, partitionId: context.partitionId });
      if (done(received)) finish();
    },
    processError: async (error: Error) => fail(error),
  };
  const { partitionId, ...subscribeOptions } = { maxWaitTimeInSeconds: 0.2, ...options };
  const subscription = partitionId === undefined
    ? consumer.subscribe(handlers, subscribeOptions)
    : consumer.subscribe(partitionId, handlers, subscribeOptions);
  try {
    await finished;
  } finally {
    await subscription.close();
  }
  return received;
}

/** Resolves once `check` returns true, polling; bounded by the test's timeout. */
export async function eventually(check: () => Promise<boolean> | boolean, everyMs = 50): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, everyMs));
}

export function bodiesByPartition(received: Received[]): Record<string, unknown[]> {
  const result: Record<string, unknown[]> = {};
  for (const { event, partitionId } of received) (result[partitionId] ??= []).push(event.body);
  return result;
}
