import fs from 'node:fs';
import path from 'node:path';
import { Duck, sqlString } from '../../lake/duckdb.js';

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

/** Every record of every stream read by DuckDB with the envelope's typed columns: what the projections and `seal` need. */
export async function duckdbReadsTheWholeLog(lake: string): Promise<number> {
  const duck = await Duck.open();
  try {
    let rows = 0;
    for (const stream of fs.readdirSync(path.join(lake, 'log')).filter((s) => /^(p\d+|commands)$/.test(s))) {
      const columns = stream === 'commands' ? "{'commandId': 'VARCHAR', 'commandName': 'VARCHAR', 'message': 'VARCHAR', 'received': 'TIMESTAMPTZ', 'correlationId': 'VARCHAR', 'recordedAt': 'TIMESTAMPTZ'}" : "{'timestamp': 'TIMESTAMPTZ', 'data': 'JSON', 'metadata': 'JSON', 'ingestedAt': 'TIMESTAMPTZ'}";
      for (const segment of fs.readdirSync(path.join(lake, 'log', stream))) {
        const file = sqlString(path.join(lake, 'log', stream, segment));
        rows += Number(await duck.scalar(`SELECT count(*) FROM read_json(${file}, format = 'newline_delimited', columns = ${columns})`));
      }
    }
    return rows;
  } finally {
    duck.close();
  }
}
