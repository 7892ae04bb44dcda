import { readLogEvents } from '../../support/lakeLog.js';
import { expectedFrom, type Expected } from '../../support/referenceModel.js';

/**
 * The reference model at any committed version of a table. A version's `txn` actions say how far
 * each log stream was applied (README: appId `job@projectionVersion/stream`, version = the last
 * sequence applied), so the table must equal the model of exactly the accepted commands whose
 * events lie at or before those positions. Events of one aggregate share a partition, in order,
 * so that subset decides each command as the full run did.
 */
export interface Outcome {
  commandId: string | null;
  commandName: string | null;
  code: string;
  received: string | null;
}

export class ModelAtPositions {
  readonly full: Expected;
  /** every recorded outcome, in arrival order (repeated command ids are not recorded) */
  readonly outcomes: Outcome[];
  private readonly accepted: { line: string; stream: string; sequence: number }[];
  private readonly cache = new Map<string, Expected>();

  constructor(lines: string[], lake: string) {
    this.full = expectedFrom(lines);
    const events = new Map(readLogEvents<{ causationId: string; partition: number; sequence: number }>(lake).map((e) => [e.causationId, e]));
    this.outcomes = [];
    this.accepted = [];
    lines.forEach((line, i) => {
      const code = this.full.codes[i];
      if (code === 'duplicate') return;
      const command = parse(line);
      const commandId = typeof command?.command_id === 'string' ? command.command_id : null;
      const received = typeof command?.received === 'string' ? new Date(command.received).toISOString() : null;
      this.outcomes.push({ commandId, commandName: typeof command?.command_name === 'string' ? command.command_name : null, code, received });
      if (code !== 'accepted') return;
      if (commandId === null) throw new Error(`scenario line ${i + 1} is accepted without a command_id: its event cannot be found in the log`);
      const event = events.get(commandId);
      if (!event) throw new Error(`no event in the lake log for the accepted command ${commandId}`);
      this.accepted.push({ line, stream: `p${event.partition}`, sequence: event.sequence });
    });
  }

  /** The model of the events applied up to `positions` (stream -> last sequence applied). */
  at(positions: Map<string, number>): Expected {
    const key = JSON.stringify([...positions].sort());
    let model = this.cache.get(key);
    if (!model) {
      model = expectedFrom(this.accepted.filter((a) => a.sequence <= (positions.get(a.stream) ?? 0)).map((a) => a.line));
      this.cache.set(key, model);
    }
    return model;
  }

  /** The end of every event stream: where a caught-up table's positions must be. */
  endOfLog(): Map<string, number> {
    const end = new Map<string, number>();
    for (const a of this.accepted) end.set(a.stream, Math.max(end.get(a.stream) ?? 0, a.sequence));
    return end;
  }
}

function parse(line: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(line);
    return value && typeof value === 'object' && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}
