-- read_models.<table>: the lake's Delta tables as Synapse serverless views, one per read model,
-- with the columns and types each table's Delta schema has (domains/*.ts `columns`). Run after
-- setup.sql. The analysts' views (../*.sql) read only these.
--
-- References (learn.microsoft.com):
--   azure/synapse-analytics/sql/query-delta-lake-format   BULK names the table's root folder (the one
--     with _delta_log); columns bind by name, case-sensitively; UTF-8 collation for strings
--   azure/synapse-analytics/sql/develop-openrowset        WITH clause; Parquet/Delta type mapping
--   azure/synapse-analytics/sql/create-use-views          Delta Lake views
--
-- Types. Delta `timestamp` is Parquet INT64 TIMESTAMP(MICROS) normalized to UTC, which serverless
-- maps to datetime2: the values are UTC wall times with no offset, so compare them with UTC
-- datetime2 values (superchargers_as_of('2026-01-01T12:00:00') means 12:00 UTC). datetime2(6)
-- keeps the microseconds. `long` is bigint, `integer` int, `double` float, `date` date. Strings
-- are varchar in a UTF-8 collation, sized in bytes from the command schemas' limits (an id of at
-- most 200 characters is at most 800 UTF-8 bytes; names of 500 characters 2000 bytes); free
-- text is varchar(8000).
--
-- Reading through the Delta log gives the table's latest committed version: files of a rebuild
-- in progress, or removed by a later commit and waiting for vacuum, are not read.

CREATE OR ALTER VIEW read_models.superchargers AS
SELECT supercharger_serial, location_name, supercharger_type, lat, long, status,
       registered_at, status_changed_at, version
FROM OPENROWSET(BULK 'superchargers', DATA_SOURCE = 'eventlake_tables', FORMAT = 'DELTA')
WITH (
    supercharger_serial varchar(800) COLLATE Latin1_General_100_BIN2_UTF8,
    location_name varchar(2000) COLLATE Latin1_General_100_BIN2_UTF8,
    supercharger_type varchar(800) COLLATE Latin1_General_100_BIN2_UTF8,
    lat float,
    long float,
    status varchar(64) COLLATE Latin1_General_100_BIN2_UTF8,
    registered_at datetime2(6),
    status_changed_at datetime2(6),
    version bigint
) AS r;
GO

CREATE OR ALTER VIEW read_models.supercharger_status_history AS
SELECT supercharger_serial, status, valid_from, version, valid_to
FROM OPENROWSET(BULK 'supercharger_status_history', DATA_SOURCE = 'eventlake_tables', FORMAT = 'DELTA')
WITH (
    supercharger_serial varchar(800) COLLATE Latin1_General_100_BIN2_UTF8,
    status varchar(64) COLLATE Latin1_General_100_BIN2_UTF8,
    valid_from datetime2(6),
    version bigint,
    valid_to datetime2(6)
) AS r;
GO

CREATE OR ALTER VIEW read_models.daily_status_changes AS
SELECT day, status, changes
FROM OPENROWSET(BULK 'daily_status_changes', DATA_SOURCE = 'eventlake_tables', FORMAT = 'DELTA')
WITH (
    day date,
    status varchar(64) COLLATE Latin1_General_100_BIN2_UTF8,
    changes bigint
) AS r;
GO

CREATE OR ALTER VIEW read_models.customers AS
SELECT customer_id, customer_name, registered_at, version
FROM OPENROWSET(BULK 'customers', DATA_SOURCE = 'eventlake_tables', FORMAT = 'DELTA')
WITH (
    customer_id varchar(800) COLLATE Latin1_General_100_BIN2_UTF8,
    customer_name varchar(2000) COLLATE Latin1_General_100_BIN2_UTF8,
    registered_at datetime2(6),
    version bigint
) AS r;
GO

CREATE OR ALTER VIEW read_models.orders AS
SELECT order_id, customer_id, status, total_amount, item_count, created_at, updated_at, version
FROM OPENROWSET(BULK 'orders', DATA_SOURCE = 'eventlake_tables', FORMAT = 'DELTA')
WITH (
    order_id varchar(800) COLLATE Latin1_General_100_BIN2_UTF8,
    customer_id varchar(800) COLLATE Latin1_General_100_BIN2_UTF8,
    status varchar(64) COLLATE Latin1_General_100_BIN2_UTF8,
    total_amount float,
    item_count bigint,
    created_at datetime2(6),
    updated_at datetime2(6),
    version bigint
) AS r;
GO

CREATE OR ALTER VIEW read_models.order_status_history AS
SELECT order_id, status, valid_from, version, valid_to
FROM OPENROWSET(BULK 'order_status_history', DATA_SOURCE = 'eventlake_tables', FORMAT = 'DELTA')
WITH (
    order_id varchar(800) COLLATE Latin1_General_100_BIN2_UTF8,
    status varchar(64) COLLATE Latin1_General_100_BIN2_UTF8,
    valid_from datetime2(6),
    version bigint,
    valid_to datetime2(6)
) AS r;
GO

-- event_ids is a JSON array of event ids (about 40 bytes each); 8000 bytes hold some 200 events
-- of one command, far more than the example domains emit (one).
CREATE OR ALTER VIEW read_models.command_status AS
SELECT command_id, command_name, status, code, message, path, event_count, event_ids,
       aggregate_type, aggregate_id, received, source, recorded_at, log_sequence
FROM OPENROWSET(BULK 'command_status', DATA_SOURCE = 'eventlake_tables', FORMAT = 'DELTA')
WITH (
    command_id varchar(800) COLLATE Latin1_General_100_BIN2_UTF8,
    command_name varchar(800) COLLATE Latin1_General_100_BIN2_UTF8,
    status varchar(64) COLLATE Latin1_General_100_BIN2_UTF8,
    code varchar(64) COLLATE Latin1_General_100_BIN2_UTF8,
    message varchar(8000) COLLATE Latin1_General_100_BIN2_UTF8,
    path varchar(8000) COLLATE Latin1_General_100_BIN2_UTF8,
    event_count int,
    event_ids varchar(8000) COLLATE Latin1_General_100_BIN2_UTF8,
    aggregate_type varchar(800) COLLATE Latin1_General_100_BIN2_UTF8,
    aggregate_id varchar(800) COLLATE Latin1_General_100_BIN2_UTF8,
    received datetime2(6),
    source varchar(8000) COLLATE Latin1_General_100_BIN2_UTF8,
    recorded_at datetime2(6),
    log_sequence bigint
) AS r;
GO
