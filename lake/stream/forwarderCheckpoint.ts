import { safeName, type LakeLayout } from '../layout.js';
import { NotFoundError } from '../storage/lakeStorage.js';
import { joinLocation, locate } from '../storage/locations.js';

/**
 * How far the forwarder has published each lake partition into one event hub: the last lake
 * sequence of every stream whose sendBatch succeeded. Kept in the lake, beside the log it
 * describes (`forwarder/<hub>/checkpoint.json`), and replaced atomically (temp + rename), so a
 * reader sees the previous checkpoint or the next, never a torn one. It only ever lags what was
 * sent (written after the send), which makes delivery at least once: a crash between a send
 * and its checkpoint re-sends that batch, and consumers dedupe by (lakePartition, lakeSequence).
 */
export interface ForwarderCheckpoint {
  hub: string;
  /** Per lake stream (`p0`, `p1`, ...): the last sequence known to be in the hub. */
  streams: Record<string, { sequence: number }>;
  updatedAt: string;
}

export function checkpointLocation(layout: LakeLayout, hub: string): string {
  return joinLocation(layout.root, 'forwarder', safeName(hub, 'event hub'), 'checkpoint.json');
}

export async function readCheckpoint(layout: LakeLayout, hub: string): Promise<ForwarderCheckpoint> {
  const location = checkpointLocation(layout, hub);
  const { storage, path } = locate(location);
  try {
    const stored = JSON.parse((await storage.read(path)).toString('utf8')) as ForwarderCheckpoint;
    if (stored.hub !== hub || typeof stored.streams !== 'object') throw new Error(`it is not a checkpoint of hub ${hub}`);
    return stored;
  } catch (error) {
    if (error instanceof NotFoundError) return { hub, streams: {}, updatedAt: new Date(0).toISOString() };
    throw new Error(`cannot read the forwarder checkpoint ${location}: ${(error as Error).message}`);
  }
}

/** Durable and atomic: LocalStorage fsyncs and renames, ADLS renames a flushed temp file. */
export async function writeCheckpoint(layout: LakeLayout, checkpoint: ForwarderCheckpoint): Promise<void> {
  const { storage, path } = locate(checkpointLocation(layout, checkpoint.hub));
  await storage.replace(path, `${JSON.stringify(checkpoint, null, 2)}\n`);
}
