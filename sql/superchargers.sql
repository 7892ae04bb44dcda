-- Superchargers: current state, status history with validity intervals, point in time, daily changes.
-- read_models.* are the projection tables as they are (timestamps as UTC TIMESTAMP): one row per key
-- for state, valid_to set on closed history rows; read_models_tz.* the same with timestamps as stored
-- (TIMESTAMPTZ).

CREATE VIEW superchargers AS
SELECT supercharger_serial, location_name, supercharger_type, lat, long, status,
       registered_at, status_changed_at, version
FROM read_models.superchargers;

-- One row per status held; the first is 'notinuse' from registration; valid_to is NULL while current.
CREATE VIEW supercharger_status_history AS
SELECT supercharger_serial, status, valid_from, valid_to
FROM read_models.supercharger_status_history;

-- State at time ts (a UTC TIMESTAMP): a status row is valid when valid_from <= ts < valid_to.
-- It filters read_models_tz (timestamps as stored) so the filter reaches the Parquet scan.
CREATE MACRO superchargers_as_of(ts) AS TABLE
SELECT s.supercharger_serial, s.location_name, s.supercharger_type, s.lat, s.long,
       h.status, s.registered_at, utc_timestamp(h.valid_from) AS status_changed_at, h.version
FROM read_models_tz.supercharger_status_history h
JOIN read_models.superchargers s USING (supercharger_serial)
WHERE h.valid_from <= utc_instant(ts) AND (h.valid_to IS NULL OR utc_instant(ts) < h.valid_to);

-- SuperchargerStatusChanged events per UTC day and new status (registrations do not count).
CREATE VIEW daily_status_changes AS
SELECT day, status, changes
FROM read_models.daily_status_changes
ORDER BY day, status;
