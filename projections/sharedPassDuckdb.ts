import { Duck } from '../lake/duckdb.js';
import { processTempPath } from '../lake/processTemp.js';
import type { PassMemory } from './memoryBudget.js';

/**
 * One DuckDB instance for the jobs of a pass that merge batch by batch (an incremental run of
 * jobs whose tables exist), a connection each: their temp tables (`out`, `__prior`, ...) are per
 * connection, so the jobs do not see each other's.
 *
 * Why: opening and closing an instance costs ~40 ms of CPU, and each new instance flushes the
 * process's allocator (DuckDB's TaskScheduler::RelaunchThreads -> Allocator::FlushAll, seen in a
 * perf profile of a 7-job +10-event run), so the other jobs' next statements page-fault their
 * memory back in. A 7-job incremental run opened seven.
 *
 * Memory is unchanged: the instance's limit is the shares (PassMemory.sharedLimit) of the passes
 * it serves, as their own instances had together; one thread, as a TypeScript job's instance had
 * (the SQL job's incremental batch is small). Staged passes (rebuild, first run) and live passes
 * keep an instance of their own: their limits move per job (parking, finishing, staging room,
 * memoryBudget.ts and duckdbParking.ts), which a shared instance could not follow.
 */
export class SharedPassDuckdb {
  private instance: Promise<Duck> | null = null;
  private connections = 0;

  constructor(
    private readonly memory: PassMemory,
    /** The jobs of the pass: the most that may connect (the limit the instance opens with). */
    private readonly jobs: number,
  ) {}

  /** A connection of its own for one job's pass (in UTC, as every Duck's: lake/duckdb.ts). */
  async connect(): Promise<Duck> {
    this.connections += 1;
    const instance = await (this.instance ??= Duck.open(':memory:', { memory_limit: this.limitFor(this.jobs), temp_directory: processTempPath('duckdb'), threads: '1' }));
    return instance.connect();
  }

  /** Closes a connection whose job does not join after all (it read its table's checkpoint, then staged). */
  disconnect(connection: Duck): void {
    connection.close();
    this.connections -= 1;
  }

  /** Once every job has started: the limit is the shares of the passes that connected. */
  async fit(): Promise<void> {
    if (!this.instance || this.connections === this.jobs) return;
    await (await this.instance).run(`SET memory_limit = '${this.limitFor(this.connections)}'`);
  }

  /** Closes the instance; called once every pass has closed its connection. */
  async close(): Promise<void> {
    const instance = this.instance;
    this.instance = null;
    (await instance?.catch(() => null))?.close();
  }

  private limitFor(passes: number): string {
    return `${this.memory.sharedMiB * Math.max(1, passes)}MiB`;
  }
}
