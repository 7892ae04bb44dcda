import { performance } from 'node:perf_hooks';
import type { FastifyInstance, FastifyReply, onRequestHookHandler } from 'fastify';
import type { CommandRecord } from '../ingest/envelope.js';
import type { EmittedEvent, Ingester, Outcome } from '../ingest/ingester.js';
import type { WriterStatus } from '../ingest/ingestRecovery.js';
import type { IngestActivity } from './ingestActivity.js';
import type { ServiceMetrics } from './metrics.js';
import { HttpError } from './httpError.js';

/** The answer for one command of a POST /commands body. */
export type CommandResult =
  | { status: 'accepted'; commandId: string; events: EmittedEvent[] }
  | { status: 'rejected'; commandId: string | null; code: string; message: string; path: string | null }
  | { status: 'duplicate'; commandId: string; first: CommandRecord | { status: string; code: string | null; sequence: number } };

/** The answer for an array body: counts, then one result per command in the order sent. */
export interface BatchResult {
  accepted: number;
  rejected: number;
  duplicates: number;
  results: CommandResult[];
}

export interface CommandRoutesOptions {
  ingester: Ingester;
  activity: IngestActivity;
  metrics: ServiceMetrics;
  maxBatch: number;
  guard: onRequestHookHandler;
  /** Durable outcomes were written: the live projections have work. */
  onCommitted: () => void;
  /** The log could not be written: the writer recovers by itself meanwhile. */
  onWriteFailure: (error: Error) => void;
  /** Null while the writer takes commands; else when to retry and why not now. */
  unavailable: () => { retryAfterSeconds: number; status: WriterStatus } | null;
}

/**
 * POST /commands and GET /commands/:id.
 *
 * A body is one command (an object) or an array of them, decided in the order sent, each on its
 * own (a batch is not a transaction: the answer says what became of each). All commands of one
 * request are decided back to back, so no other request's commands come between them, and the
 * answer is sent only after the group commit that makes them durable; concurrent requests share
 * that commit's fsyncs.
 *
 * Status codes: 202 when every command was accepted (durable; read models follow moments later),
 * 422 when every command was rejected, 200 for anything else (a mix, or duplicates only): the
 * body then says per command what happened.
 */
export function commandRoutes(app: FastifyInstance, options: CommandRoutesOptions): void {
  const { ingester, activity, metrics } = options;

  app.post('/commands', { onRequest: options.guard }, async (request, reply) => {
    refuseWhileRecovering(options, reply);
    const body = request.body;
    const batch = Array.isArray(body);
    const commands = commandsOf(body, options.maxBatch);
    const started = performance.now();
    const outcomes: Outcome[] = [];
    let failure: Error | null = null;
    // No await in this loop: the batch is decided as one contiguous run in arrival order.
    for (const command of commands) {
      try {
        outcomes.push(ingester.decide(command, 'http'));
      } catch (error) {
        failure = error as Error; // a stopped ingester, or a domain's decide that threw
        break;
      }
    }
    try {
      await ingester.commit();
    } catch (error) {
      options.onWriteFailure(error as Error);
      reply.header('Retry-After', String(options.unavailable()?.retryAfterSeconds ?? 1));
      throw new HttpError(503, 'log_unavailable', `the lake log could not be written; nothing here is acknowledged, retry with the same command ids: ${(error as Error).message}`);
    }
    metrics.ingestLatency.observe((performance.now() - started) / 1000);
    const at = new Date().toISOString();
    outcomes.forEach((outcome, i) => activity.record(outcome, commandNameOf(commands[i]), at));
    if (outcomes.some((o) => o.status !== 'duplicate')) options.onCommitted();
    if (failure) {
      request.log.error({ err: failure, decided: outcomes.length }, 'a command could not be decided');
      throw new HttpError(
        500,
        'decide_failed',
        `command ${outcomes.length} of the request could not be decided (${failure.message}); the ${outcomes.length} before it are durable, and retrying with the same command ids is safe`,
      );
    }
    const results = await Promise.all(outcomes.map((outcome) => resultOf(outcome, ingester)));
    reply.code(statusCodeOf(results));
    if (!batch) return results[0];
    const count = (status: CommandResult['status']) => results.filter((r) => r.status === status).length;
    return { accepted: count('accepted'), rejected: count('rejected'), duplicates: count('duplicate'), results } satisfies BatchResult;
  });

  app.get<{ Params: { id: string } }>('/commands/:id', { onRequest: options.guard }, async (request) => {
    const record = await ingester.commandRecord(request.params.id);
    if (!record) throw new HttpError(404, 'not_found', `no command with id ${JSON.stringify(request.params.id)} is recorded`);
    return record;
  });
}

/**
 * While the writer recovers from a failed commit, commands are refused before anything is
 * decided: 503 with Retry-After (the seconds until its next attempt) and what it is waiting on.
 */
function refuseWhileRecovering(options: CommandRoutesOptions, reply: FastifyReply): void {
  const down = options.unavailable();
  if (!down) return;
  reply.header('Retry-After', String(down.retryAfterSeconds));
  const why = down.status.state === 'recovering' ? `; last attempt: ${down.status.lastError}` : '';
  throw new HttpError(503, 'log_unavailable', `the lake log writer is recovering from a failed write (retry in ${down.retryAfterSeconds} s with the same command ids)${why}`);
}

/** The body as a list of commands, or a 400/413 that writes nothing. */
function commandsOf(body: unknown, maxBatch: number): object[] {
  if (isObject(body)) return [body];
  if (!Array.isArray(body)) {
    throw new HttpError(400, 'bad_request', 'the body must be one command (a JSON object) or an array of commands');
  }
  if (body.length === 0) throw new HttpError(400, 'bad_request', 'the array holds no commands');
  if (body.length > maxBatch) throw new HttpError(413, 'batch_too_large', `${body.length} commands in one request; at most ${maxBatch} are allowed`);
  const bad = body.findIndex((item) => !isObject(item));
  if (bad >= 0) throw new HttpError(400, 'bad_request', `item ${bad} of the array is not a command (a JSON object); nothing was written`);
  return body as object[];
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function commandNameOf(command: object): string | null {
  const name = (command as { command_name?: unknown }).command_name;
  return typeof name === 'string' ? name : null;
}

async function resultOf(outcome: Outcome, ingester: Ingester): Promise<CommandResult> {
  switch (outcome.status) {
    case 'accepted':
      return { status: 'accepted', commandId: outcome.commandId, events: outcome.events };
    case 'rejected':
      return { status: 'rejected', commandId: outcome.commandId, code: outcome.code, message: outcome.message, path: outcome.path ?? null };
    case 'duplicate': {
      // The first outcome is durable by now (it was decided before, and we waited for the commit).
      const first = await ingester.commandRecord(outcome.commandId);
      return { status: 'duplicate', commandId: outcome.commandId, first: first ?? outcome.first };
    }
  }
}

function statusCodeOf(results: CommandResult[]): number {
  if (results.every((r) => r.status === 'accepted')) return 202;
  if (results.every((r) => r.status === 'rejected')) return 422;
  return 200;
}
