import type { RowStep } from '../views/servingDelta.js';
import type { ServingState } from '../views/servingCatalog.js';

/**
 * What the service and its query processes say to each other (over the IPC channel of
 * `child_process.fork`, structured-clone serialization): one request at a time per process, and
 * one reply naming the request it answers.
 */

/**
 * What a query process may use. It needs no config and no lake: the service sends it the files
 * of the views it reads (ServingMessage).
 */
export interface QueryProcessSetup {
  /** All the process may use (MiB, its RSS): half for DuckDB's memory_limit, half for its JS heap. */
  memoryMb: number;
}

/** The JS heap's share of a query process's memory: turning rows into JS values and JSON. */
export function heapMb(setup: QueryProcessSetup): number {
  return Math.floor(setup.memoryMb / 2);
}

/** DuckDB's share (its memory_limit): scans, joins, aggregates, the result before conversion. */
export function duckdbMb(setup: QueryProcessSetup): number {
  return setup.memoryMb - heapMb(setup);
}

export interface QueryRequest {
  id: number;
  sql: string;
  /** Most rows to answer with. */
  limit: number;
  /** Interrupt the query after this long (ms): what is left of its time after waiting. */
  timeoutMs: number;
  /** Most bytes of JSON rows to answer with. */
  maxBytes: number;
}

/** Rows arrive as JSON text, serialized once in the query process and sent on to the client as is. */
export interface QueryRows {
  columns: { name: string; type: string }[];
  rowsJson: string;
  rowCount: number;
  truncated: boolean;
}

/** The process's first message: it has loaded the config and opened the views (when built). */
export interface QueryProcessReady {
  ready: true;
}

/**
 * What the service tells a query process about the views, in order: a serving state (a base to
 * open, with the delta over it) when the process is ready and whenever the base changes, then
 * every live commit's row change. A process applies a step to the delta of its base and of the
 * base it is opening, so whichever it answers from next already holds it.
 */
export type ServingMessage = { serving: ServingState } | { step: RowStep };

/** A query process has opened a base and closed the ones before it (their files may go). */
export interface QueryProcessOpened {
  opened: number;
}

export type QueryReply = ({ id: number; ok: true } & QueryRows) | { id: number; ok: false; kind: QueryFailureKind; message: string };

/**
 * Why a query got no rows: `refused` (not read-only, or a file outside the lake), `timeout`,
 * `busy` (the queue is full), `stopping` (the service is closing), `not_ready` (no views yet),
 * `result_too_large` (over the byte cap), `out_of_memory` (over the memory cap), `failed`
 * (anything else, DuckDB's message says what).
 */
export type QueryFailureKind = 'refused' | 'timeout' | 'busy' | 'stopping' | 'not_ready' | 'result_too_large' | 'out_of_memory' | 'failed';

export class QueryFailure extends Error {
  constructor(
    readonly kind: QueryFailureKind,
    message: string,
  ) {
    super(message);
  }
}
