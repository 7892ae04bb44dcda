-- What became of each command, the view of ../commands.sql in T-SQL: completed (with its events)
-- or rejected (with code and message). For Synapse serverless SQL (after synapse/setup.sql and
-- synapse/read_models.sql) and the Fabric SQL analytics endpoint (read_models is then a lakehouse
-- schema holding the lake's tables: docs/analytics-engines.md).
--
-- References (learn.microsoft.com):
--   azure/synapse-analytics/sql/overview-features   serverless: views over views
--   fabric/data-engineering/lakehouse-sql-analytics-endpoint   views over the lakehouse's Delta tables

CREATE OR ALTER VIEW dbo.command_status AS
SELECT command_id, command_name, status, code, message, path, event_count, event_ids,
       aggregate_type, aggregate_id, received, source, recorded_at
FROM read_models.command_status;
GO
