import { commandLog, type Domain } from '../api/index.js';

/**
 * What became of each command: projected from the command workflow log. Each command id has
 * exactly one record there (repeats are not logged), so rows are appended, never replaced: no
 * per-key state to keep in memory or to deduplicate in the view.
 */
const commandStatus = commandLog.rowsProjection({
  name: 'command_status',
  version: 3,
  description: 'The outcome of every command (completed or rejected, with the error or the events); log_sequence is its position in the command log, the order commands were decided in',
  columns: [
    { name: 'command_id', type: 'VARCHAR' },
    { name: 'command_name', type: 'VARCHAR' },
    { name: 'status', type: 'VARCHAR' },
    { name: 'code', type: 'VARCHAR' },
    { name: 'message', type: 'VARCHAR' },
    { name: 'path', type: 'VARCHAR' },
    { name: 'event_count', type: 'INTEGER' },
    { name: 'event_ids', type: 'VARCHAR' },
    { name: 'aggregate_type', type: 'VARCHAR' },
    { name: 'aggregate_id', type: 'VARCHAR' },
    { name: 'received', type: 'TIMESTAMPTZ' },
    { name: 'source', type: 'VARCHAR' },
    { name: 'recorded_at', type: 'TIMESTAMPTZ' },
    { name: 'log_sequence', type: 'BIGINT' },
  ],
  rows: (c) => [{
    command_id: c.commandId,
    command_name: c.commandName,
    status: c.status,
    code: c.code,
    message: c.message,
    path: c.path,
    event_count: c.eventIds.length,
    // A flat column (Power BI friendly): the ids as a JSON array string.
    event_ids: JSON.stringify(c.eventIds),
    aggregate_type: c.aggregateType,
    aggregate_id: c.aggregateId,
    received: c.received,
    source: c.source,
    recorded_at: c.recordedAt,
    log_sequence: c.sequence,
  }],
});

export const commandWorkflowDomain: Domain = {
  name: 'commands',
  aggregates: [],
  commands: [],
  sqlFile: 'commands.sql',
  projections: [commandStatus],
};
