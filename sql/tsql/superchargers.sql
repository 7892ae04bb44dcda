-- Superchargers, the views of ../superchargers.sql in T-SQL: current state, status history with
-- validity intervals, point in time, daily changes. For Synapse serverless SQL (after
-- synapse/setup.sql and synapse/read_models.sql) and the Fabric SQL analytics endpoint (read_models
-- is then a lakehouse schema holding the lake's tables: docs/analytics-engines.md).
--
-- References (learn.microsoft.com):
--   azure/synapse-analytics/sql/overview-features   serverless: views over views, inline table-valued
--     functions (the only user-defined functions it has)
--   fabric/data-engineering/lakehouse-sql-analytics-endpoint   the SQL analytics endpoint: views and
--     functions over the lakehouse's Delta tables, shortcuts included
--
-- Timestamps are datetime2 holding UTC; pass UTC times to superchargers_as_of. A view has no
-- ORDER BY in T-SQL: order in the query (DuckDB's daily_status_changes comes sorted).

CREATE OR ALTER VIEW dbo.superchargers AS
SELECT supercharger_serial, location_name, supercharger_type, lat, long, status,
       registered_at, status_changed_at, version
FROM read_models.superchargers;
GO

-- One row per status held; the first is 'notinuse' from registration; valid_to is NULL while current.
CREATE OR ALTER VIEW dbo.supercharger_status_history AS
SELECT supercharger_serial, status, valid_from, valid_to
FROM read_models.supercharger_status_history;
GO

-- State at time @ts (UTC): a status row is valid when valid_from <= @ts < valid_to.
DROP FUNCTION IF EXISTS dbo.superchargers_as_of;
GO
CREATE FUNCTION dbo.superchargers_as_of (@ts datetime2(6))
RETURNS TABLE
AS
RETURN (
    SELECT s.supercharger_serial, s.location_name, s.supercharger_type, s.lat, s.long,
           h.status, s.registered_at, h.valid_from AS status_changed_at, h.version
    FROM read_models.supercharger_status_history AS h
    JOIN read_models.superchargers AS s ON s.supercharger_serial = h.supercharger_serial
    WHERE h.valid_from <= @ts AND (h.valid_to IS NULL OR @ts < h.valid_to)
);
GO

-- SuperchargerStatusChanged events per UTC day and new status (registrations do not count).
CREATE OR ALTER VIEW dbo.daily_status_changes AS
SELECT day, status, changes
FROM read_models.daily_status_changes;
GO
