import type { Column } from '../../projections/projection.js';
import { readLogSql } from './duckdbRebuild.js';

/** The columns the raw-log questions need (DuckDB's JSON reader skips the rest of each line). */
const COLUMNS: Column[] = [
  { name: 'eventType', type: 'VARCHAR' },
  { name: 'aggregateId', type: 'VARCHAR' },
  { name: 'aggregateType', type: 'VARCHAR' },
  { name: 'version', type: 'BIGINT' },
  { name: 'timestamp', type: 'TIMESTAMPTZ' },
  { name: 'data', type: 'JSON' as Column['type'] },
];

const ITEMS = `from_json(data->'items', '[{"quantity":"BIGINT","unit_price":"DOUBLE"}]')`;

/** One analyst question, asked of the views and, as the baseline, of the raw event log. */
export interface Question {
  name: string;
  views: string;
  raw: string;
}

/**
 * The query figure's questions. Each raw-log query answers exactly what its view answers (the
 * figure checks that the two results agree), folding events with arg_max and aggregates the way
 * an analyst without read models would.
 */
export function questions(lake: string, asOf: string): Question[] {
  const log = readLogSql(lake, 'events', COLUMNS);
  return [
    {
      name: 'superchargers_as_of(ts)',
      views: `SELECT status, count(*) AS n FROM superchargers_as_of(TIMESTAMP '${asOf}') GROUP BY status ORDER BY status`,
      raw: `SELECT status, count(*) AS n FROM (
          SELECT aggregateId, arg_max(CASE WHEN eventType = 'SuperchargerRegistered' THEN 'notinuse' ELSE data->>'to' END, version) AS status
          FROM ${log} WHERE aggregateType = 'supercharger' AND timestamp <= TIMESTAMPTZ '${asOf}+00'
          GROUP BY aggregateId)
        GROUP BY status ORDER BY status`,
    },
    {
      name: 'vw_order_summary aggregates',
      views: `SELECT status, count(*) AS orders, round(sum(total_amount), 2) AS revenue, sum(item_count) AS items, count(customer_name) AS with_customer
        FROM vw_order_summary GROUP BY status ORDER BY status`,
      raw: `WITH e AS (SELECT aggregateId, aggregateType, eventType, version, data FROM ${log} WHERE aggregateType IN ('order', 'customer')),
        o AS (
          SELECT aggregateId AS order_id,
            any_value(data->>'customer_id') FILTER (WHERE eventType = 'OrderCreated') AS customer_id,
            arg_max(CASE WHEN eventType = 'OrderCreated' THEN 'Created' ELSE data->>'to' END, version) AS status,
            any_value(list_sum(list_transform(${ITEMS}, lambda i: i.quantity * i.unit_price))) FILTER (WHERE eventType = 'OrderCreated') AS total_amount,
            any_value(list_sum(list_transform(${ITEMS}, lambda i: i.quantity))) FILTER (WHERE eventType = 'OrderCreated') AS item_count
          FROM e WHERE aggregateType = 'order' GROUP BY aggregateId),
        c AS (SELECT aggregateId AS customer_id, any_value(data->>'customer_name') AS customer_name FROM e WHERE eventType = 'CustomerRegistered' GROUP BY aggregateId)
        SELECT o.status, count(*) AS orders, round(sum(total_amount), 2) AS revenue, sum(item_count) AS items, count(c.customer_name) AS with_customer
        FROM o LEFT JOIN c USING (customer_id) GROUP BY o.status ORDER BY o.status`,
    },
    {
      name: 'vw_daily_order_metrics',
      views: `SELECT * FROM vw_daily_order_metrics`,
      raw: `SELECT CAST(timestamp AS DATE) AS order_date, count(*) AS order_count, sum(total) AS total_revenue, avg(total) AS avg_order_value,
          count(DISTINCT customer_id) AS unique_customers
        FROM (
          SELECT timestamp, data->>'customer_id' AS customer_id, list_sum(list_transform(${ITEMS}, lambda i: i.quantity * i.unit_price)) AS total
          FROM ${log} WHERE eventType = 'OrderCreated')
        GROUP BY 1 ORDER BY 1`,
    },
  ];
}
