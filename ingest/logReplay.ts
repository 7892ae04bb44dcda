import type { LakeLayout } from '../lake/layout.js';
import type { LogHead } from '../lake/log/logHead.js';
import { parseLogLine } from '../lake/log/logDamage.js';
import { COMMAND_STREAM } from '../lake/log/logMeta.js';
import { StreamCursor } from '../lake/log/streamCursor.js';
import type { CommandRecord, EventEnvelope } from './envelope.js';
import type { WriteModel } from './writeModel.js';
import { loadSnapshot } from './writeModelSnapshot.js';

const BATCH = 50_000;

/**
 * Rebuilds the write model at start: the newest snapshot, then every log record after it.
 * Returns how many records were replayed (the cost a new snapshot would save next time).
 */
export async function replayLog(layout: LakeLayout, model: WriteModel, head: LogHead): Promise<number> {
  const covered = await loadSnapshot(layout, model, head);
  let replayed = 0;
  for (const [stream, streamHead] of Object.entries(head.streams)) {
    const cursor = new StreamCursor(layout.streamDir(stream), covered[stream] ?? 0);
    for (let lines = await cursor.next(BATCH, streamHead); lines.length > 0; lines = await cursor.next(BATCH, streamHead)) {
      for (let i = 0; i < lines.length; i++) {
        const record = parseLogLine(stream, cursor.spans, lines, i);
        if (stream === COMMAND_STREAM) model.applyCommand(record as CommandRecord);
        else model.applyEvent(record as EventEnvelope);
      }
      replayed += lines.length;
    }
  }
  return replayed;
}
