import type { LakeLayout } from '../layout.js';
import { joinLocation, locate } from '../storage/locations.js';
import { LogHeadError, REPAIR_HINT } from './logDamage.js';
import { readHeadState, type LogHead } from './logHead.js';
import { listSegmentFiles } from './segments.js';

const STREAM_DIR = /^(p\d+|commands)$/;

/**
 * The log's committed head, for every command that opens the log: null only when nothing was
 * ever written. Segments holding records without a head are refused: read as "nothing committed",
 * they once made the next ingest trim the whole log to nothing and decide new commands against an
 * empty write model.
 */
export async function readCommittedHead(layout: LakeLayout): Promise<LogHead | null> {
  const { head } = await readHeadState(layout.headFile);
  if (!head) await refuseHeadlessSegments(layout);
  return head;
}

/** Throws when any stream's segments hold bytes while the log has no head. */
export async function refuseHeadlessSegments(layout: LakeLayout): Promise<void> {
  const holding = await streamsWithRecords(layout);
  if (holding.length === 0) return;
  throw new LogHeadError(
    `the lake log ${layout.logDir} holds records (${holding.join(', ')}) but has no commit point: ${layout.headFile} is missing or empty. ` +
      `Nothing is read or trimmed until it is rebuilt from the segments' complete records with \`eventlake log repair\`; ${REPAIR_HINT}`,
  );
}

/** Streams with a non-empty segment, as "p0 (1234 bytes)". */
export async function streamsWithRecords(layout: LakeLayout): Promise<string[]> {
  const { storage, path } = locate(layout.logDir);
  const streams = (await storage.list(path)).filter((e) => e.isDirectory && STREAM_DIR.test(e.name)).map((e) => e.name);
  const holding: string[] = [];
  for (const stream of streams) {
    const bytes = (await listSegmentFiles(joinLocation(layout.logDir, stream))).reduce((sum, s) => sum + s.size, 0);
    if (bytes > 0) holding.push(`${stream} (${bytes} bytes)`);
  }
  return holding;
}
