import fs from 'node:fs/promises';
import { Duck, sqlIdent, sqlPathList, sqlString } from '../lake/duckdb.js';
import type { LakeLayout } from '../lake/layout.js';
import type { EventlakeConfig } from '../projections/jobsConfig.js';
import { DATA_SCHEMA, fileKeys } from './readModelData.js';
import { addedRows, hiddenKeys, hiddenMatch, registerDeltaFunctions } from './servingCatalog.js';
import type { ServingDelta } from './servingDelta.js';
import { heldVersions, replaceViews } from './viewsDatabase.js';
import { TableSnapshots } from './tableSnapshots.js';

/**
 * The views database brought to the serving views' state without reading a table: a copy of
 * their base with the delta's rows written into it, by key as the serving views lay them over
 * the base (hidden replaceable rows deleted, added rows inserted), each read model's bookkeeping
 * moved to the version the delta holds. It costs the copy of the file and the changed rows; the
 * result replaces `views.duckdb` (for outside clients) and, linked as `keepAs`, becomes the
 * serving views' next base. Returns the versions it holds. `snapshots` may be kept from one merge
 * to the next, so each reads only the tables' new commits.
 */
export async function mergeDelta(config: EventlakeConfig, layout: LakeLayout, base: string, delta: ServingDelta, keepAs: string, snapshots = new TableSnapshots()): Promise<Map<string, number>> {
  return replaceViews(layout, keepAs, async (tmp) => {
    await fs.copyFile(base, tmp, fs.constants.COPYFILE_FICLONE);
    const duck = await Duck.open(tmp);
    try {
      registerDeltaFunctions(duck, () => delta);
      const held = await heldVersions(duck);
      for (const job of config.jobs) {
        const projection = job.definition;
        const model = delta.model(projection.name);
        if (!model || (model.size === 0 && model.version === held.get(projection.name))) continue;
        const table = `${DATA_SCHEMA}.${sqlIdent(projection.name)}`;
        // The bookkeeping a later `buildViews` refreshes from: the files of the version now shown.
        const snapshot = model.version < 0 ? null : await snapshots.at(layout.tableDir(job.output), model.version);
        await duck.run('BEGIN TRANSACTION');
        if (model.hidden.size > 0) await duck.run(`DELETE FROM ${table} AS b USING (${hiddenKeys(projection)}) AS h WHERE ${hiddenMatch(projection, 'b', 'h')}`);
        await duck.run(`INSERT INTO ${table} ${addedRows(projection)}`);
        await duck.run(
          `UPDATE eventlake.read_models SET table_version = ${model.version}, files = ${sqlPathList([...fileKeys(snapshot)])}::VARCHAR[], error = NULL,
           table_id = ${snapshot?.metadata?.id ? sqlString(snapshot.metadata.id) : 'table_id'} WHERE name = ${sqlString(projection.name)}`,
        );
        await duck.run('COMMIT');
      }
      const versions = await heldVersions(duck);
      await duck.run('CHECKPOINT');
      return versions;
    } finally {
      duck.close();
    }
  });
}
