import type { Duck } from '../lake/duckdb.js';

/**
 * Parks a DuckDB instance: sets its memory_limit to the first of `limitsMiB` (least first) that
 * DuckDB takes, so that it writes what it can to its temp folder and frees the memory. DuckDB
 * refuses a limit below what it cannot write out ("Failed to change memory limit to ...: could
 * not free up enough memory"; a table's row version info, ~2 bytes per inserted row, stays in
 * memory), and that refusal once left a 30M-event rebuild's command_status at its full share
 * while the folding job's limit counted it parked. Returns the limit set (MiB), or null when none
 * was taken (the instance keeps the limit it had).
 */
export async function parkDuckdb(duck: Duck, limitsMiB: number[]): Promise<{ mib: number | null; refused: string[] }> {
  const refused: string[] = [];
  for (const mib of limitsMiB) {
    try {
      await duck.run(`SET memory_limit = '${mib}MiB'`);
      return { mib, refused };
    } catch (error) {
      refused.push(`${mib} MiB: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  return { mib: null, refused };
}

/** Bytes DuckDB holds that it cannot write to its temp folder: the row version info of inserted rows (tag BASE_TABLE). */
export async function unevictableBytes(duck: Duck): Promise<number> {
  return Number(await duck.scalar("SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory() WHERE tag = 'BASE_TABLE'"));
}

/**
 * Room a staging statement needs beside what DuckDB cannot spill: the JSON reader's 32 MiB buffer
 * and what the statement pins (at a 64 MiB limit: "failed to allocate data of size 32.0 MiB (33.9
 * MiB/64.0 MiB used)"), with some margin.
 */
const STATEMENT_ROOM_MIB = 80;

/**
 * A staging instance's memory_limit: its share, or more once what it cannot spill leaves less
 * than a statement's room beside it (rounded up to 16 MiB, so the limit changes seldom). That
 * part grows with the rows staged, ~2 bytes a row (command_status at 30M commands: ~57 MiB);
 * within a fixed share it would crowd out the JSON reader, and staging would fail instead of
 * spill.
 */
export function stagingLimitMiB(shareMiB: number, unevictable: number): number {
  const needed = Math.ceil((unevictable / 1024 ** 2 + STATEMENT_ROOM_MIB) / 16) * 16;
  return Math.max(shareMiB, needed);
}
