import fs from 'node:fs';
import path from 'node:path';

/** Every record of one lake log stream (`p0`, ..., `commands`), read straight from its segment files. */
export function readLogStream<T = Record<string, unknown>>(lake: string, stream: string): T[] {
  const dir = path.join(lake, 'log', stream);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ndjson'))
    .sort()
    .flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T));
}

/** Every event of every partition, partition after partition, each in log order. */
export function readLogEvents<T = Record<string, unknown>>(lake: string): T[] {
  const partitions = fs.readdirSync(path.join(lake, 'log')).filter((name) => /^p\d+$/.test(name)).sort();
  return partitions.flatMap((p) => readLogStream<T>(lake, p));
}

/** The command ids in the command log, in arrival order. */
export function loggedCommandIds(lake: string): string[] {
  return readLogStream<{ commandId: string }>(lake, 'commands').map((r) => r.commandId);
}
