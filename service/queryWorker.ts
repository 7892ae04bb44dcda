import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { logger } from '../lake/logger.js';
import { TOKEN_ENV } from './serviceConfig.js';
import { residentBytes } from './processMemory.js';
import type { ServingState } from '../views/servingCatalog.js';
import { rowlessBaseFits } from '../views/servingDelta.js';
import { heapMb, QueryFailure, type QueryProcessOpened, type QueryProcessReady, type QueryProcessSetup, type QueryReply, type QueryRequest, type QueryRows, type ServingMessage } from './queryProtocol.js';

const ENTRY = fileURLToPath(new URL('./queryProcess.js', import.meta.url));

/**
 * How long past its time a query may keep its process before the process is killed. The query
 * process interrupts DuckDB itself at the deadline; only synchronous work (turning a huge result
 * into JS values) can overstay, and only a kill stops that.
 */
const KILL_GRACE_MS = 1_000;

/** A process not ready this long after it was started is given up on for the query that waits. */
const STARTUP_LIMIT_MS = 60_000;

const HEAP_OUT_OF_MEMORY = /JavaScript heap out of memory|Reached heap limit/;

/**
 * How often the memory of a process running a query is looked at. DuckDB's memory_limit and the
 * JS heap limit leave out memory neither tracks: turning `SELECT range(20000000)` into JS values
 * took a process to 1.6 GB with both set to 256 MiB, so the process's RSS is capped as well.
 */
const MEMORY_SAMPLE_MS = 200;

interface Running {
  id: number;
  resolve: (rows: QueryRows) => void;
  reject: (error: Error) => void;
  killTimer: NodeJS.Timeout;
  memoryWatch: NodeJS.Timeout;
  killedFor: 'time' | 'memory' | null;
}

/** One started query process, and whether it has said it is ready. */
interface Started {
  child: ChildProcess;
  ready: Promise<void>;
  settleReady: { resolve: () => void; reject: (error: Error) => void };
  stderrTail: string;
  /** Told the views (it said ready, and was sent the serving state): later messages go to it as they come. */
  told: boolean;
  /** Bases whose files it may still read: the one it has open and any it was sent since. */
  bases: Set<number>;
  /** Each read model's version in the delta it was last sent whole (null: none yet); see `servingFor`. */
  given: Map<string, number> | null;
}

/**
 * The service's handle on one query process: starts it, sends it one query at a time, and
 * settles each query however the process ends it (a reply, a kill at the deadline, a crash such
 * as running out of heap). A process that died is started again: at once when a query caused
 * the death, else when the next query needs it (so a process that cannot start does not loop).
 * A process still starting (loading the config, opening the views) is never killed for a
 * query's time.
 */
export class QueryWorker {
  private started: Started | null = null;
  private running: Running | null = null;
  private nextId = 1;
  private stopped = false;

  constructor(
    private readonly setup: QueryProcessSetup,
    /** The views as they are now (null: not built yet), sent to a process once it is ready. */
    private readonly serving: () => ServingState | null,
  ) {}

  /** Passes a new base or a commit's row change on to the process (one not ready yet gets the whole state when it is). */
  tell(message: ServingMessage): void {
    const started = this.started;
    if (!started?.told || !started.child.connected) return;
    if (!('serving' in message)) {
      started.child.send(message);
      return;
    }
    started.bases.add(message.serving.base.id);
    started.child.send(servingFor(started, message.serving));
  }

  /** The bases whose files the process may still read. */
  basesInUse(): Set<number> {
    return new Set(this.started?.bases ?? []);
  }

  /** The process, started if there is none. */
  private start(): Started {
    if (this.stopped) throw new QueryFailure('stopping', 'the service is stopping');
    this.started ??= this.spawn();
    return this.started;
  }

  /**
   * Runs one query once the process is ready. The process's start is not the query's doing and
   * does not spend its time: on a loaded machine a start took 4 s, which a 500 ms timeout would
   * never have let any query through.
   */
  async run(request: Omit<QueryRequest, 'id'>): Promise<QueryRows> {
    const started = this.start();
    await untilReady(started.ready);
    return this.send(started.child, request);
  }

  /** Ends the process; a query it runs fails as `stopping`. */
  stop(): void {
    this.stopped = true;
    this.started?.child.kill('SIGKILL');
  }

  private send(child: ChildProcess, request: Omit<QueryRequest, 'id'>): Promise<QueryRows> {
    if (this.running) throw new Error('a query process runs one query at a time');
    const id = this.nextId++;
    return new Promise<QueryRows>((resolve, reject) => {
      const kill = (reason: 'time' | 'memory') => {
        running.killedFor ??= reason;
        child.kill('SIGKILL');
      };
      const running: Running = {
        id,
        resolve,
        reject,
        killedFor: null,
        killTimer: setTimeout(() => kill('time'), request.timeoutMs + KILL_GRACE_MS),
        memoryWatch: setInterval(() => {
          void residentBytes(child.pid!).then((bytes) => {
            if (bytes !== null && bytes > this.setup.memoryMb * MIB && this.running === running) kill('memory');
          });
        }, MEMORY_SAMPLE_MS),
      };
      this.running = running;
      child.send({ ...request, id } satisfies QueryRequest);
    });
  }

  private spawn(): Started {
    const child = fork(ENTRY, [JSON.stringify(this.setup)], {
      serialization: 'advanced',
      execArgv: [`--max-old-space-size=${heapMb(this.setup)}`],
      // The query process needs no secret of the service's (analysts' SQL runs there).
      env: { ...process.env, [TOKEN_ENV]: undefined },
      // stdout stays ours alone (its first line is the URL); stderr carries the process's logs.
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let settleReady!: Started['settleReady'];
    const ready = new Promise<void>((resolve, reject) => (settleReady = { resolve, reject }));
    ready.catch(() => undefined); // a query waiting on it sees the rejection; nobody else must
    const started: Started = { child, ready, settleReady, stderrTail: '', told: false, bases: new Set(), given: null };
    child.stderr!.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      started.stderrTail = (started.stderrTail + chunk.toString()).slice(-4_096);
    });
    child.on('message', (message: QueryReply | QueryProcessReady | QueryProcessOpened) => {
      if ('ready' in message) {
        const state = this.serving();
        if (state) {
          started.bases.add(state.base.id);
          child.send(servingFor(started, state));
        }
        started.told = true;
        settleReady.resolve();
      } else if ('opened' in message) {
        for (const id of started.bases) if (id < message.opened) started.bases.delete(id);
      } else this.settle(message);
    });
    // 'close', not 'exit': by then stderr is read to its end, with V8's out-of-memory report.
    child.on('close', (code, signal) => this.exited(started, code, signal));
    child.on('error', (error) => logger.error({ err: error }, 'query process error'));
    return started;
  }

  private settle(reply: QueryReply): void {
    const running = this.running;
    if (!running || reply.id !== running.id) return;
    this.finish(running);
    if (reply.ok) running.resolve({ columns: reply.columns, rowsJson: reply.rowsJson, rowCount: reply.rowCount, truncated: reply.truncated });
    else running.reject(new QueryFailure(reply.kind, reply.message));
  }

  private exited(started: Started, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.started !== started) return;
    this.started = null;
    const how = signal ?? `exit code ${code}`;
    started.settleReady.reject(
      this.stopped ? new QueryFailure('stopping', 'the service is stopping') : new QueryFailure('failed', `the query process could not start (${how}): ${started.stderrTail.trim().split('\n').at(-1) ?? ''}`),
    );
    const running = this.running;
    if (!running) {
      if (!this.stopped) logger.warn({ code, signal }, 'a query process stopped between queries');
      return;
    }
    this.finish(running);
    if (this.stopped) running.reject(new QueryFailure('stopping', 'the service is stopping'));
    else if (running.killedFor === 'time') running.reject(new QueryFailure('timeout', 'the query ran out of time'));
    else if (running.killedFor === 'memory') running.reject(new QueryFailure('out_of_memory', `its query process grew past ${this.setup.memoryMb} MiB`));
    else if (HEAP_OUT_OF_MEMORY.test(started.stderrTail)) running.reject(new QueryFailure('out_of_memory', `turning its result into JS values took more heap than its query process has (${heapMb(this.setup)} MiB)`));
    else running.reject(new QueryFailure('failed', `the query process stopped (${how}) while running the query`));
    // The query killed its process: have the next one ready for the next query.
    if (!this.stopped) this.start();
  }

  private finish(running: Running): void {
    clearTimeout(running.killTimer);
    clearInterval(running.memoryWatch);
    this.running = null;
  }
}

const MIB = 1024 * 1024;

/** Waits for the process to be ready, at most STARTUP_LIMIT_MS; a process still starting then is left to start. */
async function untilReady(ready: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new QueryFailure('failed', `no query process started within ${STARTUP_LIMIT_MS / 1000} s; see the service log`)), STARTUP_LIMIT_MS);
  });
  try {
    await Promise.race([ready, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A serving state as one query process gets it: a merged base without rows when the process holds
 * every step the base does not (it was sent each of them since its last whole delta, and lays
 * them over the base itself: ServingReader, StepLog); else whole, as the process's new start.
 */
function servingFor(started: Started, state: ServingState): ServingMessage {
  if (state.merged && started.given && rowlessBaseFits(started.given, new Map(state.versions))) return { serving: { ...state, delta: null } };
  if (state.delta) started.given = new Map(state.delta.models.map((model) => [model.readModel, model.version]));
  return { serving: state };
}
