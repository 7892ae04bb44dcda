import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../lake/delta/deltaTable.js';
import { LakeLayout } from '../../lake/layout.js';
import { TableSnapshots } from '../../views/tableSnapshots.js';
import { eventlakeJson, tempDir, writeNdjson } from '../support/cli.js';
import { registerCharger } from '../support/server.js';

describe('table snapshots kept between merges', () => {
  const dir = tempDir();
  const lake = path.join(dir, 'lake');
  const table = new LakeLayout(lake).tableDir('superchargers');

  beforeAll(async () => {
    for (const round of [1, 2, 3]) {
      await eventlakeJson(['--lake', lake, 'ingest', writeNdjson(path.join(dir, `c${round}.ndjson`), [{ command_id: `reg-${round}`, ...registerCharger(`SNAP-${round}`) }])]);
      await eventlakeJson(['--lake', lake, 'run', 'superchargers']);
    }
  }, 180_000);

  it('answers every version as loading it from the table does, forward from the one held and back by loading anew', async () => {
    const latest = (await loadSnapshot(table)).version;
    expect(latest).toBeGreaterThanOrEqual(2);
    const snapshots = new TableSnapshots();
    for (const version of [0, 1, latest, 1]) {
      const held = await snapshots.at(table, version);
      const loaded = await loadSnapshot(table, { version });
      expect(held.version).toBe(version);
      expect([...held.files.keys()].sort()).toEqual([...loaded.files.keys()].sort());
      expect([...held.txns.entries()]).toEqual([...loaded.txns.entries()]);
    }
  });
});
