import type { ServingState } from '../views/servingCatalog.js';
import { QueryFailure, type QueryProcessSetup, type QueryRows, type ServingMessage } from './queryProtocol.js';
import { QueryWorker } from './queryWorker.js';

export interface QueryPoolOptions {
  setup: QueryProcessSetup;
  /** The views as they are now (null: not built yet): what a process is given when it has started. */
  serving: () => ServingState | null;
  /** Query processes, so queries run at once. */
  concurrency: number;
  /** Queries that may wait for a free process; one more is refused as `busy`. */
  queueLimit: number;
  /** From arrival to answer, waiting included (ms). */
  timeoutMs: number;
  /** Most bytes of JSON rows in one answer. */
  maxBytes: number;
  /** Told whenever the number of running or waiting queries changes (for metrics). */
  onLoad?: (load: { running: number; waiting: number }) => void;
}

interface Waiter {
  resolve: (worker: QueryWorker) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Runs the service's queries in a fixed set of query processes, so no query's work (DuckDB's,
 * converting its rows, its memory) lands on the service's event loop. A process starts when a
 * query first needs it and then stays (a service nobody queries pays nothing for them); its
 * start, about a second of CPU, delays that first query without spending its time. A query waits for a free
 * process in a bounded queue; the timeout counts from arrival, so waiting spends it too, and a
 * full queue answers at once instead of piling up (8 slow queries once made `SELECT 1` wait 16 s).
 */
export class QueryPool {
  private readonly idle: QueryWorker[];
  private readonly all: QueryWorker[];
  private readonly waiting: Waiter[] = [];
  private closed = false;

  constructor(private readonly options: QueryPoolOptions) {
    this.all = Array.from({ length: options.concurrency }, () => new QueryWorker(options.setup, options.serving));
    this.idle = [...this.all];
  }

  /** `arrived`: when the request came (Date.now()), if it waited for something before (POST /query `after`). */
  async run(sql: string, limit: number, arrived = Date.now()): Promise<QueryRows> {
    if (this.closed) throw new QueryFailure('stopping', 'the service is stopping');
    const deadline = arrived + this.options.timeoutMs;
    const worker = this.idle.pop() ?? (await this.waitForWorker(deadline));
    const started = Date.now();
    this.report();
    try {
      return await worker.run({ sql, limit, timeoutMs: Math.max(1, deadline - started), maxBytes: this.options.maxBytes });
    } catch (error) {
      if (error instanceof QueryFailure && error.kind === 'timeout') throw this.timedOut(started - arrived);
      throw error;
    } finally {
      this.release(worker);
    }
  }

  /** Passes a new base or a live commit's row change on to every query process. */
  tell(message: ServingMessage): void {
    for (const worker of this.all) worker.tell(message);
  }

  /** The bases any query process may still read (their files must stay). */
  basesInUse(): Set<number> {
    return new Set(this.all.flatMap((worker) => [...worker.basesInUse()]));
  }

  /** Refuses queries still waiting and ends the query processes (a query they run fails as `stopping`). */
  close(): void {
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new QueryFailure('stopping', 'the service is stopping'));
    }
    for (const worker of this.all) worker.stop();
  }

  private waitForWorker(deadline: number): Promise<QueryWorker> {
    const { concurrency, queueLimit } = this.options;
    if (this.waiting.length >= queueLimit) {
      throw new QueryFailure('busy', `${concurrency} queries are running and ${queueLimit} are waiting, the most this service holds (serve --query-concurrency, --query-queue); retry in a moment`);
    }
    return new Promise<QueryWorker>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(waiter), 1);
          this.report();
          reject(this.timedOut(this.options.timeoutMs));
        }, deadline - Date.now()),
      };
      this.waiting.push(waiter);
      this.report();
    });
  }

  private release(worker: QueryWorker): void {
    const next = this.waiting.shift();
    if (next) {
      clearTimeout(next.timer);
      next.resolve(worker);
    } else {
      this.idle.push(worker);
    }
    this.report();
  }

  private timedOut(waitedMs: number): QueryFailure {
    const waited = waitedMs > 0 ? `, ${waitedMs} ms of it waiting for a free query process,` : '';
    return new QueryFailure('timeout', `the query was not answered within ${this.options.timeoutMs} ms${waited} and was stopped (serve --query-timeout); narrow it (filters, LIMIT) or use \`eventlake query\``);
  }

  private report(): void {
    this.options.onLoad?.({ running: this.all.length - this.idle.length, waiting: this.waiting.length });
  }
}
