import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { once } from 'node:events';
import type { LakeLayout } from '../lake/layout.js';
import type { LogHead } from '../lake/log/logHead.js';
import { syncDirectory } from '../lake/storage/localStorage.js';
import type { WriteModel } from './writeModel.js';

/**
 * The write model saved at a log commit, so that start-up replays only the log written after
 * it. NDJSON: a header with the stream sequences it covers, then one array per aggregate
 * ["a", key, version, state] and per command ["c", id, sequence, status, code].
 */
interface SnapshotHeader {
  format: 1;
  commit: number;
  sequences: Record<string, number>;
}

const PREFIX = 'write-model-';
const KEEP = 2;

function snapshotFile(layout: LakeLayout, commit: number): string {
  return path.join(layout.snapshotsDir, `${PREFIX}${String(commit).padStart(12, '0')}.ndjson`);
}

export async function saveSnapshot(layout: LakeLayout, model: WriteModel, head: LogHead): Promise<void> {
  await fs.mkdir(layout.snapshotsDir, { recursive: true });
  const file = snapshotFile(layout, head.commit);
  const tmp = `${file}.tmp`;
  const out = createWriteStream(tmp);
  const write = async (value: unknown) => {
    if (!out.write(`${JSON.stringify(value)}\n`)) await once(out, 'drain');
  };
  const sequences = Object.fromEntries(Object.entries(head.streams).map(([s, h]) => [s, h.sequence]));
  await write({ format: 1, commit: head.commit, sequences } satisfies SnapshotHeader);
  for (const [key, entry] of model.aggregates()) await write(['a', key, entry.version, entry.state]);
  for (const [id, memo] of model.commands.entries()) await write(['c', id, memo.sequence, memo.status, memo.code]);
  out.end();
  await once(out, 'finish');
  const handle = await fs.open(tmp, 'r+');
  await handle.sync();
  await handle.close();
  await fs.rename(tmp, file);
  await syncDirectory(layout.snapshotsDir);
  await pruneSnapshots(layout);
}

async function listSnapshots(layout: LakeLayout): Promise<string[]> {
  const names = await fs.readdir(layout.snapshotsDir).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith(PREFIX) && n.endsWith('.ndjson')).sort();
}

async function pruneSnapshots(layout: LakeLayout): Promise<void> {
  const names = await listSnapshots(layout);
  for (const name of names.slice(0, -KEEP)) await fs.rm(path.join(layout.snapshotsDir, name), { force: true });
}

/**
 * Loads the newest snapshot not ahead of the log's head into `model`; returns the sequences it
 * covers (empty when there is none, so the whole log is replayed).
 */
export async function loadSnapshot(layout: LakeLayout, model: WriteModel, head: LogHead): Promise<Record<string, number>> {
  const names = (await listSnapshots(layout)).reverse();
  for (const name of names) {
    const header = await readInto(path.join(layout.snapshotsDir, name), model, head);
    if (header) return header.sequences;
  }
  return {};
}

async function readInto(file: string, model: WriteModel, head: LogHead): Promise<SnapshotHeader | null> {
  const lines = readline.createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let header: SnapshotHeader | null = null;
  for await (const line of lines) {
    if (!header) {
      header = JSON.parse(line) as SnapshotHeader;
      // A snapshot taken past the head (the log was restored from backup, or repaired to less
      // than it had) would be wrong.
      if (header.format !== 1 || header.commit > head.commit) return null;
      if (Object.entries(header.sequences).some(([stream, sequence]) => sequence > (head.streams[stream]?.sequence ?? 0))) return null;
      continue;
    }
    const entry = JSON.parse(line) as unknown[];
    if (entry[0] === 'a') model.restoreAggregate(entry[1] as string, entry[2] as number, entry[3]);
    else model.commands.set(entry[1] as string, { sequence: entry[2] as number, status: entry[3] as 'completed', code: entry[4] as null });
  }
  return header;
}
