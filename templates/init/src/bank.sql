-- The bank's views. read_models.<projection> are the projection tables (timestamps as UTC
-- TIMESTAMP); read_models_tz.<projection> the same with timestamps as stored (TIMESTAMPTZ).

CREATE VIEW accounts AS
SELECT account_id, owner, balance, opened_at, updated_at
FROM read_models.accounts;

-- Balances at time ts (a UTC TIMESTAMP): a history row is valid when valid_from <= ts < valid_to.
-- It filters read_models_tz, so the filter reaches the Parquet scan.
CREATE MACRO accounts_as_of(ts) AS TABLE
SELECT a.account_id, a.owner, h.balance, utc_timestamp(h.valid_from) AS balance_since
FROM read_models_tz.account_balances h
JOIN read_models.accounts a USING (account_id)
WHERE h.valid_from <= utc_instant(ts) AND (h.valid_to IS NULL OR utc_instant(ts) < h.valid_to);
