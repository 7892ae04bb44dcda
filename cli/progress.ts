import cliProgress from 'cli-progress';

/** A progress bar on a terminal; nothing at all when stdout is a pipe or a file. */
export interface Progress {
  update(value: number, total?: number): void;
  stop(): void;
}

export function progressBar(label: string, total: number): Progress {
  if (!process.stdout.isTTY || process.env.CI) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total}`, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(Math.max(total, 1), 0);
  return {
    update: (value, newTotal) => {
      if (newTotal !== undefined) bar.setTotal(Math.max(newTotal, 1));
      bar.update(value);
    },
    stop: () => bar.stop(),
  };
}

const MB = 1024 * 1024;

/**
 * Ingest's bar: share of the file, megabytes and commands done, and the rate in MB/s (a file's
 * size is known; stdin's is not, so it shows no bar then).
 */
export function ingestProgress(totalBytes: number, now: () => number = Date.now): { update(bytes: number, commands: number): void; stop(): void } {
  if (!process.stdout.isTTY || process.env.CI) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: totalBytes > 0 ? 'ingest [{bar}] {percentage}% | {done}/{size} MB | {commands} commands | {rate} MB/s' : 'ingest {done} MB | {commands} commands | {rate} MB/s',
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = now();
  const size = (totalBytes / MB).toFixed(1);
  bar.start(Math.max(totalBytes, 1), 0, { done: '0.0', size, commands: '0', rate: '0.0' });
  return {
    update(bytes, commands) {
      const seconds = Math.max((now() - started) / 1000, 0.001);
      bar.update(bytes, { done: (bytes / MB).toFixed(1), size, commands: commands.toLocaleString('en-US'), rate: (bytes / MB / seconds).toFixed(1) });
    },
    stop: () => bar.stop(),
  };
}
