-- What became of each command: completed (with its events) or rejected (with code and message).
CREATE VIEW command_status AS
SELECT command_id, command_name, status, code, message, path, event_count, event_ids,
       aggregate_type, aggregate_id, received, source, recorded_at
FROM read_models.command_status;
