import type { ReadEvent } from '@event-driven-io/emmett';
import { pongoSingleStreamProjection, rebuildPostgreSQLProjections, type PostgresReadEventMetadata } from '@event-driven-io/emmett-postgresql';
import { pongoClient } from '@event-driven-io/pongo';
import { performance } from 'node:perf_hooks';
import type { DomainEvent } from './emmettDomain.js';

type Read = ReadEvent<DomainEvent, PostgresReadEventMetadata>;

// Type aliases, not interfaces: Pongo documents need an implicit index signature.
type SuperchargerDocument = {
  supercharger_serial: string;
  location_name: string;
  supercharger_type: string;
  lat: number;
  long: number;
  status: string;
  registered_at: string;
  status_changed_at: string;
  version: number;
};

type OrderDocument = {
  order_id: string;
  customer_id: string;
  status: string;
  total_amount: number;
  item_count: number;
  created_at: string;
  updated_at: string;
  version: number;
};

/** The `superchargers` read model (current state per station), as an Emmett Pongo projection. */
const superchargers = pongoSingleStreamProjection<SuperchargerDocument, DomainEvent, PostgresReadEventMetadata, DomainEvent>({
  collectionName: 'superchargers',
  canHandle: ['SuperchargerRegistered', 'SuperchargerStatusChanged'],
  evolve: (document: SuperchargerDocument | null, event: Read): SuperchargerDocument | null => {
    const version = Number(event.metadata.streamPosition);
    const at = event.metadata.timestamp;
    if (event.type === 'SuperchargerRegistered') {
      const d = event.data as Omit<SuperchargerDocument, 'status' | 'registered_at' | 'status_changed_at' | 'version'>;
      return { ...d, status: 'notinuse', registered_at: at, status_changed_at: at, version };
    }
    return document && { ...document, status: event.data.to as string, status_changed_at: at, version };
  },
});

/** The `orders` read model (current state per order with its totals), as an Emmett Pongo projection. */
const orders = pongoSingleStreamProjection<OrderDocument, DomainEvent, PostgresReadEventMetadata, DomainEvent>({
  collectionName: 'orders',
  canHandle: ['OrderCreated', 'OrderStatusChanged'],
  evolve: (document: OrderDocument | null, event: Read): OrderDocument | null => {
    const version = Number(event.metadata.streamPosition);
    const at = event.metadata.timestamp;
    if (event.type === 'OrderCreated') {
      const items = event.data.items as { quantity: number; unit_price: number }[];
      return {
        order_id: event.data.order_id as string,
        customer_id: event.data.customer_id as string,
        status: 'Created',
        total_amount: items.reduce((sum, i) => sum + i.quantity * i.unit_price, 0),
        item_count: items.reduce((sum, i) => sum + i.quantity, 0),
        created_at: at,
        updated_at: at,
        version,
      };
    }
    return document && { ...document, status: event.data.to as string, updated_at: at, version };
  },
});

export interface EmmettProjectInput {
  connectionString: string;
  /** Events pulled per batch (Emmett's default is 100). */
  batchSize: number;
}

export interface EmmettProjectTimes {
  ms: number;
  batchSize: number;
  documents: { superchargers: number; orders: number };
}

/**
 * Child side: Emmett's own rebuild of both projections from the start of the event store
 * (rebuildPostgreSQLProjections: truncate, read every event in global order, apply, checkpoint),
 * timed until it stops at the end of the store.
 */
export async function emmettProject(input: EmmettProjectInput): Promise<EmmettProjectTimes> {
  const { batchSize } = input;
  const started = performance.now();
  const consumer = rebuildPostgreSQLProjections<DomainEvent>({
    connectionString: input.connectionString,
    projections: [superchargers, orders],
    // Emmett's puller sleeps pullingFrequencyInMs (default 50) after every batch, even with more
    // messages waiting; a rebuild should not, so it is 0 here.
    pulling: { batchSize, pullingFrequencyInMs: 0 },
  });
  try {
    await consumer.start();
  } finally {
    await consumer.close();
  }
  const ms = performance.now() - started;
  const pongo = pongoClient(input.connectionString);
  try {
    const db = pongo.db();
    const documents = {
      superchargers: Number(await db.collection<SuperchargerDocument>('superchargers').countDocuments()),
      orders: Number(await db.collection<OrderDocument>('orders').countDocuments()),
    };
    return { ms, batchSize, documents };
  } finally {
    await pongo.close();
  }
}
