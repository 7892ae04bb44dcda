-- Superchargers: current state, status history with validity intervals, point in time, daily changes.
-- read_models.* are the projection tables (timestamps as UTC TIMESTAMP, one row per key for state).

CREATE VIEW superchargers AS
SELECT supercharger_serial, location_name, supercharger_type, lat, long, status,
       registered_at, status_changed_at, version
FROM read_models.superchargers;

-- One row per status held; the first is 'notinuse' from registration; valid_to is NULL while current.
CREATE VIEW supercharger_status_history AS
SELECT supercharger_serial, status, valid_from,
       lead(valid_from) OVER (PARTITION BY supercharger_serial ORDER BY version) AS valid_to
FROM read_models.supercharger_status_history;

-- State at time ts: a status row is valid when valid_from <= ts < valid_to.
CREATE MACRO superchargers_as_of(ts) AS TABLE
WITH held AS (
    SELECT supercharger_serial, status, valid_from, version,
           lead(valid_from) OVER (PARTITION BY supercharger_serial ORDER BY version) AS valid_to
    FROM read_models.supercharger_status_history
)
SELECT s.supercharger_serial, s.location_name, s.supercharger_type, s.lat, s.long,
       h.status, s.registered_at, h.valid_from AS status_changed_at, h.version
FROM held h
JOIN read_models.superchargers s USING (supercharger_serial)
WHERE h.valid_from <= ts AND (h.valid_to IS NULL OR ts < h.valid_to);

-- SuperchargerStatusChanged events per UTC day and new status (registrations do not count).
CREATE VIEW daily_status_changes AS
SELECT day, status, CAST(sum(changes) AS BIGINT) AS changes
FROM read_models.daily_status_changes
GROUP BY day, status
ORDER BY day, status;
