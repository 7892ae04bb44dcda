-- eventlake on Azure Synapse serverless SQL pool: run once per database, before read_models.sql
-- and the views (../commands.sql, ../orders.sql, ../superchargers.sql).
--
-- References (learn.microsoft.com):
--   azure/synapse-analytics/sql/query-delta-lake-format   OPENROWSET(FORMAT = 'DELTA'), data sources,
--     UTF-8 collation; serverless reads Delta Lake 1.0 tables, not deletion vectors or v2 checkpoints
--   azure/synapse-analytics/sql/develop-openrowset        BULK paths (https:// or abfss://), WITH, Parquet type mapping
--   azure/synapse-analytics/sql/create-use-views          views over OPENROWSET (Delta Lake views)
--   azure/synapse-analytics/sql/overview-features         serverless: views, schemas, inline table-valued functions only
--   azure/synapse-analytics/sql/develop-storage-files-storage-access-control   credentials
--   sql/tools/sqlcmd/sqlcmd-use-scripting-variables       $(lake_url) below
--
-- Run it in a database of your own: data sources cannot be created in master (or in databases
-- replicated from Spark). For example: CREATE DATABASE eventlake COLLATE Latin1_General_100_BIN2_UTF8;
--
-- The lake's location is set here, once: its root folder, the one that holds tables/, as
-- https://<account>.dfs.core.windows.net/<filesystem>/<folder> or abfss://<filesystem>@<account>.dfs.core.windows.net/<folder>.
-- `eventlake tsql --lake-url <url>` prints the scripts with it filled in; with sqlcmd,
-- pass -v lake_url="<url>".
--
-- Storage access: without a CREDENTIAL, a Microsoft Entra user reads the files with their own
-- identity (Storage Blob Data Reader on the filesystem, or read + execute ACLs). To read as the
-- workspace's managed identity instead (SQL logins cannot use Entra pass-through), create
-- a master key and a database scoped credential first, and add CREDENTIAL = eventlake_identity:
--   CREATE MASTER KEY ENCRYPTION BY PASSWORD = '<strong password>';
--   CREATE DATABASE SCOPED CREDENTIAL eventlake_identity WITH IDENTITY = 'Managed Identity';

CREATE EXTERNAL DATA SOURCE eventlake_tables
WITH (LOCATION = '$(lake_url)/tables/');
GO

-- read_models.<table>: each Delta table of the lake as a view (read_models.sql), the same layer
-- as the DuckDB views database's read_models schema. The analysts' views read only this schema.
CREATE SCHEMA read_models;
GO
