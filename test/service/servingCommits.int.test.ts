import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { Duck } from '../../lake/duckdb.js';
import { LakeLayout } from '../../lake/layout.js';
import { readCommittedHead } from '../../lake/log/committedHead.js';
import { loadConfig, type EventlakeConfig } from '../../projections/jobsConfig.js';
import { LiveJob } from '../../service/liveJob.js';
import { ServingViews } from '../../service/servingViews.js';
import type { ServingState } from '../../views/servingCatalog.js';
import type { RowStep } from '../../views/servingDelta.js';
import { eventlakeJson, REPO, tempDir, writeNdjson } from '../support/cli.js';
import { registerCharger } from '../support/server.js';

/**
 * The serving views show a batch's rows as soon as it is folded, before its table commit, while
 * jobs keep running; a merge into views.duckdb may start at any moment and must record only what
 * is committed (views.duckdb's bookkeeping is where a later refresh diffs from).
 */
describe('serving views: told rows are shown at once, merged only once committed', () => {
  const dir = tempDir();
  const lake = path.join(dir, 'lake');
  let config: EventlakeConfig;
  let layout: LakeLayout;
  let serving: ServingViews;
  let live: LiveJob;
  const bases: ServingState[] = [];
  const steps: RowStep[] = [];

  beforeAll(async () => {
    await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, 'c.ndjson'), [...sampleNdjson({ count: 100, seed: 3 })])]);
    await eventlakeJson(['--lake', lake, 'run']);
    config = await loadConfig({ lake, cwd: REPO });
    layout = new LakeLayout(config.lakeDir, config.stateDir ?? undefined);
    serving = new ServingViews({ config, layout, mergeDelayMs: 3_600_000, mergeRows: 1_000_000, onBase: (s) => bases.push(s), onStep: (s) => steps.push(s), basesInUse: () => new Set() });
    await serving.start();
    const job = config.jobs.find((j) => j.name === 'superchargers')!;
    live = new LiveJob(layout, job, config.partitions, (change) => serving.record({ readModel: change.readModel, fromVersion: change.fromVersion, toVersion: change.toVersion, ...change.change }), config.memory);
    await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, 'd.ndjson'), [{ command_id: 'reg-REAL-1', ...registerCharger('REAL-1') }])]);
  }, 180_000);
  afterAll(async () => {
    await live.close();
  });

  it('merges the committed step and keeps showing, but never writes, a step told ahead of its commit', async () => {
    const version = await (await live.catchUp((await readCommittedHead(layout))!)).landed;
    serving.committed('superchargers', version);
    // A batch folded and told, its commit not written yet (as while its files are being written).
    const ghost = JSON.stringify({ supercharger_serial: 'GHOST-1' });
    const told = steps.at(-1)!;
    const ghostRow = told.added[0].row.replace('REAL-1', 'GHOST-1');
    serving.record({ readModel: 'superchargers', fromVersion: version, toVersion: version + 1, replaced: [], added: [{ row: ghostRow, key: ghost, mutable: true }] });
    expect(steps.at(-1)!.toVersion).toBe(version + 1);

    await serving.stop(); // merges what is left into views.duckdb

    // A query process given the new base still shows the told row on top of it.
    const shown = bases.at(-1)!.delta!.models.find((m) => m.readModel === 'superchargers')!;
    expect(shown.current.map(([key]) => key)).toEqual([ghost]);
    expect(shown.version).toBe(version + 1);
    // views.duckdb holds the committed row and version only.
    const duck = await Duck.open(layout.viewsDatabase, { access_mode: 'READ_ONLY' });
    try {
      const serials = (await duck.rows(`SELECT supercharger_serial FROM read_model_data.superchargers WHERE supercharger_serial IN ('REAL-1', 'GHOST-1')`)).map((r) => r.supercharger_serial);
      expect(serials).toEqual(['REAL-1']);
      expect(Number(await duck.scalar(`SELECT table_version FROM eventlake.read_models WHERE name = 'superchargers'`))).toBe(version);
    } finally {
      duck.close();
    }
  });

  it('a change the views could not take (a commit they were not told) is shown only once the tables were read anew', async () => {
    const views = new ServingViews({ config, layout, mergeDelayMs: 3_600_000, mergeRows: 1_000_000, onBase: () => undefined, onStep: () => undefined, basesInUse: () => new Set() });
    await views.start();
    let dropped = 0;
    const job = config.jobs.find((j) => j.name === 'superchargers')!;
    const skipping = new LiveJob(layout, job, config.partitions, (change) => {
      // The first batch's change never reaches the views: the next one skips a version.
      if (dropped++ > 0) views.record({ readModel: change.readModel, fromVersion: change.fromVersion, toVersion: change.toVersion, ...change.change });
    }, config.memory);
    try {
      for (const serial of ['GAP-1', 'GAP-2']) {
        await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, `${serial}.ndjson`), [{ command_id: `reg-${serial}`, ...registerCharger(serial) }])]);
        const version = await (await skipping.catchUp((await readCommittedHead(layout))!)).landed;
        views.committed('superchargers', version);
        if (serial === 'GAP-1') continue;
        await views.whenShown('superchargers', version);
        // By then the views show both rows (in the base read anew from the tables, or on top of it).
        const state = views.state()!;
        const model = state.delta!.models.find((m) => m.readModel === 'superchargers')!;
        expect(model.version).toBe(version);
        const duck = await Duck.open(state.base.base, { access_mode: 'READ_ONLY' });
        try {
          const inBase = (await duck.rows(`SELECT supercharger_serial FROM read_model_data.superchargers WHERE supercharger_serial LIKE 'GAP-%'`)).map((r) => JSON.stringify({ supercharger_serial: r.supercharger_serial }));
          const shown = [...inBase.filter((key) => !model.hidden.includes(key)), ...model.current.map(([key]) => key)];
          expect(shown.map((key) => JSON.parse(key).supercharger_serial).sort()).toEqual(['GAP-1', 'GAP-2']);
        } finally {
          duck.close();
        }
      }
    } finally {
      await skipping.close();
      await views.stop();
    }
  });
});
