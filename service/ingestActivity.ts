import type { Outcome } from '../ingest/ingester.js';
import type { ServiceMetrics } from './metrics.js';

/** One command as the status page lists it. */
export interface RecentCommand {
  at: string;
  commandId: string | null;
  commandName: string | null;
  status: Outcome['status'];
  code: string | null;
  message: string | null;
  events: number;
}

/** What this service has ingested since it started (the lake log holds the full history). */
export interface IngestCounters {
  accepted: number;
  rejected: number;
  duplicates: number;
  events: number;
  rejectedByCode: Record<string, number>;
  /** When the last group commit covering an HTTP request completed. */
  lastCommitAt: string | null;
}

const RECENT = 50;

/**
 * Counts durable outcomes for /status and /metrics and keeps the last few commands and rejections
 * in memory for the status page. Only outcomes whose commit succeeded are recorded here.
 */
export class IngestActivity {
  readonly counters: IngestCounters = { accepted: 0, rejected: 0, duplicates: 0, events: 0, rejectedByCode: {}, lastCommitAt: null };
  private readonly commands: RecentCommand[] = [];
  private readonly rejections: RecentCommand[] = [];

  /** `rejectionCodes` are counted from 0, so /status lists every code a command may get. */
  constructor(
    private readonly metrics: ServiceMetrics,
    rejectionCodes: readonly string[] = [],
  ) {
    for (const code of rejectionCodes) this.counters.rejectedByCode[code] = 0;
  }

  record(outcome: Outcome, commandName: string | null, at: string): void {
    const entry: RecentCommand = { at, commandId: outcome.commandId, commandName, status: outcome.status, code: null, message: null, events: 0 };
    if (outcome.status === 'accepted') {
      this.counters.accepted += 1;
      this.counters.events += outcome.events.length;
      this.metrics.commandsAccepted.inc();
      this.metrics.eventsAppended.inc(outcome.events.length);
      entry.events = outcome.events.length;
    } else if (outcome.status === 'duplicate') {
      this.counters.duplicates += 1;
      this.metrics.commandsDuplicate.inc();
    } else {
      this.counters.rejected += 1;
      this.counters.rejectedByCode[outcome.code] = (this.counters.rejectedByCode[outcome.code] ?? 0) + 1;
      this.metrics.commandsRejected.inc({ code: outcome.code });
      entry.code = outcome.code;
      entry.message = outcome.message;
      push(this.rejections, entry);
    }
    push(this.commands, entry);
    this.counters.lastCommitAt = at;
  }

  /** Newest first. */
  recentCommands(): RecentCommand[] {
    return [...this.commands].reverse();
  }

  /** Newest first. */
  recentRejections(): RecentCommand[] {
    return [...this.rejections].reverse();
  }
}

function push<T>(ring: T[], item: T): void {
  ring.push(item);
  if (ring.length > RECENT) ring.shift();
}
