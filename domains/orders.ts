import type { EventEnvelope } from '../ingest/envelope.js';
import type { RowsProjection, StateProjection } from '../projections/projection.js';
import { statusTransition, type Aggregate, type CommandHandler, type Domain } from './domain.js';

/** Customers and their orders. Orders do not check their customer (another aggregate). */
export const ORDER_STATUSES = ['Created', 'Paid', 'Shipped', 'Delivered', 'Cancelled'] as const;
type OrderStatus = (typeof ORDER_STATUSES)[number];

const ALLOWED: Record<string, readonly OrderStatus[]> = {
  Created: ['Paid', 'Cancelled'],
  Paid: ['Shipped', 'Cancelled'],
  Shipped: ['Delivered'],
};

const id = { type: 'string', minLength: 1, maxLength: 200 };

const registerCustomer: CommandHandler<{ exists: true }> = {
  commandName: 'RegisterCustomer',
  aggregateType: 'customer',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['customer_id', 'customer_name'],
    properties: { customer_id: id, customer_name: { type: 'string', minLength: 1, maxLength: 500 } },
  },
  aggregateId: (c) => c.customer_id as string,
  decide(state, c) {
    if (state) return { code: 'duplicate_aggregate', message: `customer ${c.customer_id} is already registered`, path: '/command/customer_id' };
    return [{ eventType: 'CustomerRegistered', data: { customer_id: c.customer_id, customer_name: c.customer_name } }];
  },
};

const createOrder: CommandHandler<{ status: OrderStatus }> = {
  commandName: 'CreateOrder',
  aggregateType: 'order',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['order_id', 'customer_id', 'items'],
    properties: {
      order_id: id,
      customer_id: id,
      items: {
        type: 'array',
        minItems: 1,
        maxItems: 1000,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['sku', 'quantity', 'unit_price'],
          properties: {
            sku: id,
            quantity: { type: 'integer', minimum: 1 },
            unit_price: { type: 'number', minimum: 0 },
          },
        },
      },
    },
  },
  aggregateId: (c) => c.order_id as string,
  decide(state, c) {
    if (state) return { code: 'duplicate_aggregate', message: `order ${c.order_id} already exists`, path: '/command/order_id' };
    return [{ eventType: 'OrderCreated', data: { order_id: c.order_id, customer_id: c.customer_id, items: c.items, status: 'Created' } }];
  },
};

const changeOrderStatus: CommandHandler<{ status: OrderStatus }> = {
  commandName: 'ChangeOrderStatus',
  aggregateType: 'order',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['order_id', 'status'],
    properties: { order_id: id, status: { enum: [...ORDER_STATUSES] } },
  },
  aggregateId: (c) => c.order_id as string,
  decide(state, c) {
    const orderId = c.order_id as string;
    if (!state) return { code: 'not_found', message: `order ${orderId} does not exist`, path: '/command/order_id' };
    const refused = statusTransition('order', orderId, state.status, c.status as string, ALLOWED);
    if (refused) return refused;
    return [{ eventType: 'OrderStatusChanged', data: { order_id: orderId, from: state.status, to: c.status } }];
  },
};

const customer: Aggregate<{ exists: true }> = { aggregateType: 'customer', evolve: () => ({ exists: true }) };
const order: Aggregate<{ status: OrderStatus }> = {
  aggregateType: 'order',
  evolve: (_state, event) => ({ status: (event.eventType === 'OrderCreated' ? 'Created' : event.data.to) as OrderStatus }),
};

type E = EventEnvelope;
interface Item {
  quantity: number;
  unit_price: number;
}

const customers: StateProjection = {
  kind: 'state',
  name: 'customers',
  eventTypes: ['CustomerRegistered'],
  version: 2,
  description: 'Registered customers',
  source: 'events',
  key: 'customer_id',
  orderBy: 'version',
  columns: [
    { name: 'customer_id', type: 'VARCHAR' },
    { name: 'customer_name', type: 'VARCHAR' },
    { name: 'registered_at', type: 'TIMESTAMPTZ' },
    { name: 'version', type: 'BIGINT' },
  ],
  keyOf: (e: E) => (e.eventType === 'CustomerRegistered' ? e.aggregateId : null),
  evolve: (_row, e: E) => ({ customer_id: e.aggregateId, customer_name: e.data.customer_name, registered_at: e.timestamp, version: e.version }),
};

const orders: StateProjection = {
  kind: 'state',
  name: 'orders',
  eventTypes: ['OrderCreated', 'OrderStatusChanged'],
  version: 2,
  description: 'Current state of every order with its totals',
  source: 'events',
  key: 'order_id',
  orderBy: 'version',
  columns: [
    { name: 'order_id', type: 'VARCHAR' },
    { name: 'customer_id', type: 'VARCHAR' },
    { name: 'status', type: 'VARCHAR' },
    { name: 'total_amount', type: 'DOUBLE' },
    { name: 'item_count', type: 'BIGINT' },
    { name: 'created_at', type: 'TIMESTAMPTZ' },
    { name: 'updated_at', type: 'TIMESTAMPTZ' },
    { name: 'version', type: 'BIGINT' },
  ],
  keyOf: (e: E) => (e.aggregateType === 'order' ? e.aggregateId : null),
  evolve(row, e: E) {
    if (e.eventType === 'OrderCreated') {
      const items = e.data.items as Item[];
      const total_amount = items.reduce((sum, i) => sum + i.quantity * i.unit_price, 0);
      const item_count = items.reduce((sum, i) => sum + i.quantity, 0);
      return { order_id: e.aggregateId, customer_id: e.data.customer_id, status: 'Created', total_amount, item_count, created_at: e.timestamp, updated_at: e.timestamp, version: e.version };
    }
    return { ...row, status: e.data.to, updated_at: e.timestamp, version: e.version };
  },
};

const orderStatusHistory: RowsProjection = {
  kind: 'rows',
  name: 'order_status_history',
  eventTypes: ['OrderCreated', 'OrderStatusChanged'],
  version: 3,
  description: 'One row per status an order held, valid from valid_from until valid_to (NULL while current); version is the aggregate version that set it',
  source: 'events',
  columns: [
    { name: 'order_id', type: 'VARCHAR' },
    { name: 'status', type: 'VARCHAR' },
    { name: 'valid_from', type: 'TIMESTAMPTZ' },
    { name: 'version', type: 'BIGINT' },
    { name: 'valid_to', type: 'TIMESTAMPTZ' },
  ],
  validity: { key: 'order_id', orderBy: 'version', from: 'valid_from', to: 'valid_to' },
  rows(e: E) {
    if (e.aggregateType !== 'order') return [];
    const status = e.eventType === 'OrderCreated' ? 'Created' : e.data.to;
    return [{ order_id: e.aggregateId, status, valid_from: e.timestamp, version: e.version }];
  },
};

export const ordersDomain: Domain = {
  name: 'orders',
  aggregates: [customer, order] as Aggregate[],
  commands: [registerCustomer, createOrder, changeOrderStatus] as CommandHandler[],
  sqlFile: 'orders.sql',
  projections: [customers, orders, orderStatusHistory],
};
