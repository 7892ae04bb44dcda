import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandWorkflowDomain } from '../../domains/commandWorkflow.js';
import { ordersDomain } from '../../domains/orders.js';
import { registryOf } from '../../domains/registry.js';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { superchargersDomain } from '../../domains/superchargers.js';
import { Ingester } from '../../ingest/ingester.js';
import { repairLog, RepairRefusedError } from '../../ingest/logRepair.js';
import { LakeLayout } from '../../lake/layout.js';
import type { LogHead } from '../../lake/log/logHead.js';
import { rejection } from '../support/rejection.js';
import { tempDir } from '../support/cli.js';
import { readLogStream } from '../support/lakeLog.js';
import { expectedFrom } from '../support/referenceModel.js';

const registry = registryOf([commandWorkflowDomain, superchargersDomain, ordersDomain]);
const segment = (layout: LakeLayout, stream: string) => path.join(layout.streamDir(stream), '00000000000000000001.ndjson');

/** Ingests each list of lines as one group commit; returns the head after each. */
async function ingestGroups(layout: LakeLayout, groups: string[][]): Promise<LogHead[]> {
  const ingester = await Ingester.open(layout, registry, { partitions: 2, snapshotEvery: 1e9 });
  const heads: LogHead[] = [];
  for (const lines of groups) {
    lines.forEach((line, i) => ingester.decideLine(line, `test:${i}`));
    await ingester.commit();
    heads.push(ingester.head);
  }
  await ingester.close();
  return heads;
}

/** The records of a stream whose lines parse (a damaged or torn line is skipped). */
function parseable<T>(layout: LakeLayout, stream: string): T[] {
  return fs.readFileSync(segment(layout, stream), 'utf8').split('\n').flatMap((line) => {
    try {
      return [JSON.parse(line) as T];
    } catch {
      return [];
    }
  });
}

type Logged = { commandId: string; status: string; code: string | null; eventIds: string[] };

/** The command log's outcomes in the reference model's words ('accepted' or the rejection code). */
function loggedCodes(layout: LakeLayout): string[] {
  return readLogStream<Logged>(layout.root, 'commands').map((r) => (r.status === 'completed' ? 'accepted' : r.code!));
}

describe('eventlake log repair', () => {
  it('keeps every whole group, drops an uncommitted group where its streams disagree and a torn last line; a replay then ends as an uninterrupted run', async () => {
    const layout = new LakeLayout(tempDir());
    const a = [...sampleNdjson({ count: 300, seed: 101 })];
    const b = [...sampleNdjson({ count: 200, seed: 102 })];
    const [afterA, afterB] = await ingestGroups(layout, [a, b]);
    // A crash in B's commit: every stream appended, but p0 only halfway (torn mid-line), and no head.
    const p0 = segment(layout, 'p0');
    const torn = afterA.streams.p0.offset + Math.floor((afterB.streams.p0.offset - afterA.streams.p0.offset) / 2);
    fs.truncateSync(p0, torn);
    fs.rmSync(layout.headFile);

    // What must be kept, worked out from the files: B's commands up to the first whose p0 events are not whole.
    const wholeP0 = new Set(fs.readFileSync(p0, 'utf8').split('\n').slice(0, -1).map((l) => (JSON.parse(l) as { eventId: string }).eventId));
    const commands = readLogStream<Logged & { aggregateId: string }>(layout.root, 'commands');
    const firstCut = commands.findIndex((c) => c.eventIds.some((id) => !wholeP0.has(id) && readLogStream<{ eventId: string }>(layout.root, 'p1').every((e) => e.eventId !== id)));
    expect(firstCut).toBeGreaterThan(afterA.streams.commands.sequence);
    expect(firstCut).toBeLessThan(commands.length);
    const keptIds = new Set(commands.slice(0, firstCut).flatMap((c) => c.eventIds));

    const plan = await repairLog(layout);
    expect(plan.losses).toEqual([]);
    expect(plan.streams.commands).toMatchObject({ kept: firstCut, dropped: commands.length - firstCut });
    expect(plan.streams.p0.stoppedAt?.reason).toMatch(/unfinished last line/);
    for (const stream of ['p0', 'p1']) {
      expect(plan.head.streams[stream].sequence, stream).toBe(parseable<{ eventId: string }>(layout, stream).filter((e) => keptIds.has(e.eventId)).length);
    }

    // The ingester trims past the new head; replaying B decides exactly the dropped commands again.
    await ingestGroups(layout, [b]);
    expect(loggedCodes(layout)).toEqual(expectedFrom([...a, ...b]).codes);
    const events = [...readLogStream<{ eventId: string }>(layout.root, 'p0'), ...readLogStream<{ eventId: string }>(layout.root, 'p1')];
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
    expect(events.length).toBe(readLogStream<Logged>(layout.root, 'commands').reduce((n, c) => n + c.eventIds.length, 0));
  });

  it('damage with whole records after it is loss: refused unless accepted, then the log is cut before it', async () => {
    const layout = new LakeLayout(tempDir());
    await ingestGroups(layout, [[...sampleNdjson({ count: 300, seed: 103 })]]);
    const file = segment(layout, 'commands');
    const bytes = fs.readFileSync(file);
    const damagedAt = bytes.indexOf('\n', 20_000) + 1;
    bytes.fill(0, damagedAt, damagedAt + 40);
    fs.writeFileSync(file, bytes);
    fs.writeFileSync(layout.headFile, '');
    const damagedSequence = bytes.subarray(0, damagedAt).toString().split('\n').length;

    const refused = await rejection(repairLog(layout));
    expect(refused).toBeInstanceOf(RepairRefusedError);
    expect(refused.message).toMatch(new RegExp(`commands: \\d+ whole record\\(s\\) after damage at byte ${damagedAt} of .*commands/00000000000000000001\\.ndjson`));
    expect(fs.readFileSync(layout.headFile).length).toBe(0); // nothing written

    const accepted = await repairLog(layout, { acceptLoss: true });
    expect(accepted.head.streams.commands.sequence).toBe(damagedSequence - 1);
    expect(accepted.head.streams.commands.offset).toBe(damagedAt);
    const keptEvents = new Set(parseable<Logged>(layout, 'commands').slice(0, damagedSequence - 1).flatMap((c) => c.eventIds));
    for (const stream of ['p0', 'p1']) expect(accepted.head.streams[stream].sequence).toBe(readLogStream<{ eventId: string }>(layout.root, stream).filter((e) => keptEvents.has(e.eventId)).length);
  });

  it('a head that names more than the segments hold whole is not silently lowered', async () => {
    const layout = new LakeLayout(tempDir());
    const [head] = await ingestGroups(layout, [[...sampleNdjson({ count: 100, seed: 104 })]]);
    fs.truncateSync(segment(layout, 'p1'), head.streams.p1.offset - 10);
    const refused = await rejection(repairLog(layout));
    expect(refused.message).toMatch(/p1: the old head committed sequence \d+, only \d+ can be kept/);
  });
});
