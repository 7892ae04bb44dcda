-- Orders and customers, the views of ../orders.sql in T-SQL: order summary, daily metrics, status
-- history, point in time. For Synapse serverless SQL (after synapse/setup.sql and
-- synapse/read_models.sql) and the Fabric SQL analytics endpoint (read_models is then a lakehouse
-- schema holding the lake's tables: docs/analytics-engines.md).
--
-- References (learn.microsoft.com):
--   azure/synapse-analytics/sql/overview-features   serverless: views over views, inline table-valued
--     functions (the only user-defined functions it has)
--   fabric/data-engineering/lakehouse-sql-analytics-endpoint   the SQL analytics endpoint: views and
--     functions over the lakehouse's Delta tables, shortcuts included
--
-- Orders do not check their customer, so customer_name may be NULL. Timestamps are datetime2
-- holding UTC; pass UTC times to orders_as_of. A view has no ORDER BY in T-SQL: order in the query.

CREATE OR ALTER VIEW dbo.vw_order_summary AS
SELECT o.order_id, o.customer_id, c.customer_name, o.status, o.total_amount, o.item_count,
       o.created_at AS created_date, o.updated_at AS updated_date
FROM read_models.orders AS o
LEFT JOIN read_models.customers AS c ON c.customer_id = o.customer_id;
GO

-- Per UTC day of order creation, over all orders created that day (whatever their status now).
-- DuckDB sums with fsum (compensated); a float SUM here may differ from it in the last bits.
CREATE OR ALTER VIEW dbo.vw_daily_order_metrics AS
SELECT CAST(created_at AS date) AS order_date,
       COUNT_BIG(*) AS order_count,
       SUM(total_amount) AS total_revenue,
       SUM(total_amount) / COUNT_BIG(*) AS avg_order_value,
       COUNT_BIG(DISTINCT customer_id) AS unique_customers
FROM read_models.orders
GROUP BY CAST(created_at AS date);
GO

CREATE OR ALTER VIEW dbo.order_status_history AS
SELECT order_id, status, valid_from, valid_to
FROM read_models.order_status_history;
GO

-- Orders as they stood at time @ts (UTC): valid_from <= @ts < valid_to; customers registered by then.
DROP FUNCTION IF EXISTS dbo.orders_as_of;
GO
CREATE FUNCTION dbo.orders_as_of (@ts datetime2(6))
RETURNS TABLE
AS
RETURN (
    SELECT o.order_id, o.customer_id, c.customer_name, h.status, o.total_amount, o.item_count,
           o.created_at AS created_date, h.valid_from AS updated_date
    FROM read_models.order_status_history AS h
    JOIN read_models.orders AS o ON o.order_id = h.order_id
    LEFT JOIN read_models.customers AS c ON c.customer_id = o.customer_id AND c.registered_at <= @ts
    WHERE h.valid_from <= @ts AND (h.valid_to IS NULL OR @ts < h.valid_to)
);
GO
