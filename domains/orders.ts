import { domainOf, statusTransition, type Event } from '../api/index.js';

/** Customers and their orders. Orders do not check their customer (another aggregate). */
export const ORDER_STATUSES = ['Created', 'Paid', 'Shipped', 'Delivered', 'Cancelled'] as const;
type OrderStatus = (typeof ORDER_STATUSES)[number];

interface Item {
  sku: string;
  quantity: number;
  unit_price: number;
}

export type OrderEvent =
  | Event<'CustomerRegistered', { customer_id: string; customer_name: string }>
  | Event<'OrderCreated', { order_id: string; customer_id: string; items: Item[]; status: 'Created' }>
  | Event<'OrderStatusChanged', { order_id: string; from: OrderStatus; to: OrderStatus }>;

const ALLOWED: Partial<Record<OrderStatus, readonly OrderStatus[]>> = {
  Created: ['Paid', 'Cancelled'],
  Paid: ['Shipped', 'Cancelled'],
  Shipped: ['Delivered'],
};

const id = { type: 'string', minLength: 1, maxLength: 200 } as const;

const orders = domainOf<OrderEvent>();

const customer = orders.aggregate({ aggregateType: 'customer', evolve: (): { exists: true } => ({ exists: true }) });
const order = orders.aggregate({
  aggregateType: 'order',
  evolve: (_state: { status: OrderStatus } | undefined, event): { status: OrderStatus } => ({ status: event.eventType === 'OrderStatusChanged' ? event.data.to : 'Created' }),
});

const registerCustomer = customer.command({
  commandName: 'RegisterCustomer',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['customer_id', 'customer_name'],
    properties: { customer_id: id, customer_name: { type: 'string', minLength: 1, maxLength: 500 } },
  },
  aggregateId: (c) => c.customer_id,
  decide(state, c) {
    if (state) return { code: 'duplicate_aggregate', message: `customer ${c.customer_id} is already registered`, path: '/command/customer_id' };
    return [{ eventType: 'CustomerRegistered', data: { customer_id: c.customer_id, customer_name: c.customer_name } }];
  },
});

const createOrder = order.command({
  commandName: 'CreateOrder',
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
  aggregateId: (c) => c.order_id,
  decide(state, c) {
    if (state) return { code: 'duplicate_aggregate', message: `order ${c.order_id} already exists`, path: '/command/order_id' };
    return [{ eventType: 'OrderCreated', data: { order_id: c.order_id, customer_id: c.customer_id, items: c.items, status: 'Created' } }];
  },
});

const changeOrderStatus = order.command({
  commandName: 'ChangeOrderStatus',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['order_id', 'status'],
    properties: { order_id: id, status: { enum: [...ORDER_STATUSES] } },
  },
  aggregateId: (c) => c.order_id,
  decide(state, c) {
    const orderId = c.order_id;
    if (!state) return { code: 'not_found', message: `order ${orderId} does not exist`, path: '/command/order_id' };
    const refused = statusTransition('order', orderId, state.status, c.status, ALLOWED);
    if (refused) return refused;
    return [{ eventType: 'OrderStatusChanged', data: { order_id: orderId, from: state.status, to: c.status } }];
  },
});

const customers = orders.stateProjection({
  name: 'customers',
  eventTypes: ['CustomerRegistered'],
  version: 2,
  description: 'Registered customers',
  key: 'customer_id',
  orderBy: 'version',
  columns: [
    { name: 'customer_id', type: 'VARCHAR' },
    { name: 'customer_name', type: 'VARCHAR' },
    { name: 'registered_at', type: 'TIMESTAMPTZ' },
    { name: 'version', type: 'BIGINT' },
  ],
  keyOf: (e) => (e.eventType === 'CustomerRegistered' ? e.aggregateId : null),
  evolve: (_row, e) => ({ customer_id: e.aggregateId, customer_name: e.data.customer_name, registered_at: e.timestamp, version: e.version }),
});

const orderState = orders.stateProjection({
  name: 'orders',
  eventTypes: ['OrderCreated', 'OrderStatusChanged'],
  version: 2,
  description: 'Current state of every order with its totals',
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
  keyOf: (e) => (e.aggregateType === 'order' ? e.aggregateId : null),
  evolve(row, e) {
    if (e.eventType === 'OrderCreated') {
      const items = e.data.items;
      const total_amount = items.reduce((sum, i) => sum + i.quantity * i.unit_price, 0);
      const item_count = items.reduce((sum, i) => sum + i.quantity, 0);
      return { order_id: e.aggregateId, customer_id: e.data.customer_id, status: 'Created', total_amount, item_count, created_at: e.timestamp, updated_at: e.timestamp, version: e.version };
    }
    return { ...row, status: e.data.to, updated_at: e.timestamp, version: e.version };
  },
});

const orderStatusHistory = orders.historyProjection({
  name: 'order_status_history',
  eventTypes: ['OrderCreated', 'OrderStatusChanged'],
  version: 3,
  description: 'One row per status an order held, valid from valid_from until valid_to (NULL while current); version is the aggregate version that set it',
  columns: [
    { name: 'order_id', type: 'VARCHAR' },
    { name: 'status', type: 'VARCHAR' },
    { name: 'valid_from', type: 'TIMESTAMPTZ' },
    { name: 'version', type: 'BIGINT' },
    { name: 'valid_to', type: 'TIMESTAMPTZ' },
  ],
  validity: { key: 'order_id', orderBy: 'version', from: 'valid_from', to: 'valid_to' },
  rows(e) {
    if (e.aggregateType !== 'order') return [];
    const status = e.eventType === 'OrderCreated' ? 'Created' : e.data.to;
    return [{ order_id: e.aggregateId, status, valid_from: e.timestamp, version: e.version }];
  },
});

export const ordersDomain = orders.define({
  name: 'orders',
  aggregates: [customer, order],
  commands: [registerCustomer, createOrder, changeOrderStatus],
  sqlFile: 'orders.sql',
  projections: [customers, orderState, orderStatusHistory],
});
