/** Per log stream, a sequence: how far a read model is shown, or how far a client waits for it to be. */
export type StreamPositions = Record<string, number>;

interface Waiter {
  jobs: string[];
  wanted: StreamPositions;
  resolve: () => void;
}

/**
 * How far into the log each live job's read model is shown by the query processes, and the
 * queries waiting for positions to be shown (POST /query `after`: read your own writes). A job's
 * positions move once a catch-up's rows were given to the query processes (its batches folded and
 * told, or passed over: none of their events changes its rows); a query waiting on them is then
 * sent after those rows on the same channel, so it reads them. Positions only move forward.
 */
export class ShownPositions {
  private readonly shown = new Map<string, StreamPositions>();
  private waiters: Waiter[] = [];

  /** The job's read model shows every record of these streams up to these sequences. */
  mark(job: string, positions: StreamPositions): void {
    const shown = { ...this.shown.get(job) };
    for (const [stream, sequence] of Object.entries(positions)) shown[stream] = Math.max(shown[stream] ?? 0, sequence);
    this.shown.set(job, shown);
    const ready = this.waiters.filter((w) => this.shows(w.jobs, w.wanted));
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const waiter of ready) waiter.resolve();
  }

  /**
   * Resolves true once every job in `jobs` shows `wanted`,
   * false after `timeoutMs` (the jobs that still lag are in `lagging`).
   */
  wait(jobs: string[], wanted: StreamPositions, timeoutMs: number): Promise<boolean> {
    if (this.shows(jobs, wanted)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: Waiter = { jobs, wanted, resolve: () => {
        clearTimeout(timer);
        resolve(true);
      } };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** The jobs of `jobs` that do not show `wanted` yet. */
  lagging(jobs: string[], wanted: StreamPositions): string[] {
    return jobs.filter((job) => !this.shows([job], wanted));
  }

  private shows(jobs: string[], wanted: StreamPositions): boolean {
    return jobs.every((job) => {
      const shown = this.shown.get(job) ?? {};
      return Object.entries(wanted).every(([stream, sequence]) => (shown[stream] ?? 0) >= sequence);
    });
  }
}
