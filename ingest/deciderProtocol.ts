import type { DecidedRecords } from './bufferedDecisionLog.js';

/** What a decider thread starts with. */
export interface DeciderInit {
  domains: { names: string[]; configDir: string };
  /** This decider's index among `deciders`: it owns the partitions p with p mod deciders = index. */
  index: number;
  deciders: number;
  partitions: number;
  maxDepth?: number;
  /** The next sequence of each partition stream the thread owns. */
  nextSequences: Record<string, number>;
  /** The owned partitions' aggregates: [WriteModel key, version, state]. */
  aggregates: [string, number, unknown][];
}

/** Commands for one decider, in arrival order, each with its command log sequence. */
export interface DeciderBatch {
  batch: number;
  texts: string[];
  /** Each command's source is `sourcePrefix` and its line number (built where it is needed). */
  sourcePrefix: string;
  lineNumbers: number[];
  sequences: number[];
}

/** A decider's records of one batch, and its refusals (by index in the batch) for the summary. */
export interface DecidedBatch extends DecidedRecords {
  errors: { index: number; commandId: string | null; code: string; message: string }[];
}

export type DeciderReply = { batch: number; decided: DecidedBatch } | { closed: true; aggregates: [string, { version: number; state: unknown }][] };
