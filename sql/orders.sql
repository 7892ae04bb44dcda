-- Orders and customers: order summary, daily metrics, status history, point in time.
-- Orders do not check their customer, so customer_name may be NULL.

CREATE VIEW vw_order_summary AS
SELECT o.order_id, o.customer_id, c.customer_name, o.status, o.total_amount, o.item_count,
       o.created_at AS created_date, o.updated_at AS updated_date
FROM read_models.orders o
LEFT JOIN read_models.customers c ON c.customer_id = o.customer_id;

-- Per UTC day of order creation, over all orders created that day (whatever their status now).
-- Straight from the orders (one row each): the customer join of vw_order_summary adds nothing here.
-- fsum (compensated) rather than sum: the answer must not change in its last bits when compaction
-- reorders the rows.
CREATE VIEW vw_daily_order_metrics AS
SELECT CAST(created_at AS DATE) AS order_date,
       count(*) AS order_count,
       fsum(total_amount) AS total_revenue,
       fsum(total_amount) / count(*) AS avg_order_value,
       count(DISTINCT customer_id) AS unique_customers
FROM read_models.orders
GROUP BY 1
ORDER BY 1;

CREATE VIEW order_status_history AS
SELECT order_id, status, valid_from, valid_to
FROM read_models.order_status_history;

-- Orders as they stood at time ts, a UTC TIMESTAMP (valid_from <= ts < valid_to); customers
-- registered by then. It filters read_models_tz (timestamps as stored) so the filter reaches the Parquet scan.
CREATE MACRO orders_as_of(ts) AS TABLE
SELECT o.order_id, o.customer_id, c.customer_name, h.status, o.total_amount, o.item_count,
       o.created_at AS created_date, utc_timestamp(h.valid_from) AS updated_date
FROM read_models_tz.order_status_history h
JOIN read_models.orders o USING (order_id)
LEFT JOIN read_models.customers c ON c.customer_id = o.customer_id AND c.registered_at <= ts
WHERE h.valid_from <= utc_instant(ts) AND (h.valid_to IS NULL OR utc_instant(ts) < h.valid_to);
