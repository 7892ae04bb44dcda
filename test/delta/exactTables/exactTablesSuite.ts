import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventlake, tempDir, writeNdjson } from '../../support/cli.js';
import { findDataChangeViolations } from '../../support/deltaReader/dataChangeCheck.js';
import { DeltaTableReader } from '../../support/deltaReader/deltaTableReader.js';
import { ModelAtPositions } from './modelAtPositions.js';
import { scenarioFiles } from './scenario.js';
import { TABLES } from './tableCatalogue.js';
import { checkpointProblems, columnProblems, latestProblems, newVersionsProblems, pathProblems } from './tableChecks.js';

/**
 * The acceptance test of issue 11: every committed version of every Delta table under tables/
 * IS its read model, for any engine that reads the table straight off the lake (Power BI, Fabric,
 * Synapse, Spark). The real CLI ingests a scenario in four files with `run` after each (small
 * batches, so many commits, compaction and checkpoints), then rebuilds every job, rolls one
 * back and vacuums with retention 0. After every step, an independent Delta reader written from
 * PROTOCOL.md (test/support/deltaReader; no eventlake code) reads every table, at its latest
 * version and at every version committed since the previous step, and each is compared with the
 * reference model at that version's txn positions on every view question of DESIGN.md.
 */

export interface LakeMode {
  name: string;
  /** top-level settings merged into the scenario's jobs.config.json */
  config: Record<string, unknown>;
  /** settings merged into every job of that config (for a per-table setting) */
  job?: Record<string, unknown>;
  /** the protocol every table must have in this mode */
  protocol: object;
  /** the runs must have written deletion vectors (so that the mode is not passed trivially) */
  deletionVectors?: boolean;
}

export const COPY_ON_WRITE: LakeMode = { name: 'copy-on-write (default)', config: {}, protocol: { minReaderVersion: 1, minWriterVersion: 2 } };
/**
 * A lake opting in to deletion vectors (`"deletionVectors": true`): the whole scenario again (the
 * reader applies deletion vectors; it is proved on the Spark-written delta-golden-dv tables).
 */
export const DELETION_VECTORS: LakeMode = {
  name: 'deletion vectors',
  config: { deletionVectors: true },
  protocol: { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ['deletionVectors'], writerFeatures: ['deletionVectors'] },
  deletionVectors: true,
};

/** Records per commit: small, so that four files make dozens of commits, compaction and checkpoints. */
const BATCH_SIZE = 40;
const STEP_TIMEOUT = 300_000;
/** A history: its pre-rebuild version was built by incremental runs and compaction. */
const ROLLED_BACK = 'supercharger_status_history';

/** The scenario in one lake mode (each mode is its own test file, so that the two run side by side). */
export function describeExactTables(mode: LakeMode): void {
describe(`the lake's Delta tables are the read models, at every version (${mode.name})`, () => {
  const work = tempDir('exact-tables-');
  const lake = path.join(work, 'lake');
  const config = path.join(work, 'jobs.config.json');
  writeFileSync(config, JSON.stringify({ domains: ['superchargers', 'orders'], jobs: TABLES.map((t) => ({ name: t.name, projection: t.name, batchSize: BATCH_SIZE, ...mode.job })), ...mode.config }));
  const files = scenarioFiles();
  const ingested: string[] = [];
  const rowCache = new Map<string, Record<string, unknown>[]>();
  const readers = new Map(TABLES.map((t) => [t.name, new DeltaTableReader(path.join(lake, 'tables', t.name), rowCache)]));
  const lastChecked = new Map(TABLES.map((t) => [t.name, -1]));
  /** The table version and model the latest snapshot was last checked against through a fresh reader. */
  const latestChecked = new Map<string, { version: number; model: ModelAtPositions }>();
  let model: ModelAtPositions | null = null;
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  async function cli(...args: string[]): Promise<string> {
    const result = await eventlake(['--config', config, '--lake', lake, ...args]);
    if (result.code !== 0) throw new Error(`eventlake ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    return result.stdout;
  }

  /** Every table: every version since the last step, then the latest through a fresh reader. */
  async function tablesProblems(options: { uncachedRows?: boolean } = {}): Promise<string[]> {
    const problems: string[] = [];
    // Engines pointed at tables/ list its folders; hidden ones ('.', '_') are skipped by them too.
    const folders = readdirSync(path.join(lake, 'tables')).filter((n) => !/^[._]/.test(n)).sort();
    if (JSON.stringify(folders) !== JSON.stringify(TABLES.map((t) => t.name).sort())) problems.push(`tables/ holds ${folders.join(', ')}, not exactly the ${TABLES.length} read models`);
    for (const spec of TABLES) {
      const reader = readers.get(spec.name)!;
      reader.refresh();
      const { checked, problems: versionProblems } = await newVersionsProblems(reader, spec, lastChecked.get(spec.name)!, model!);
      problems.push(...versionProblems, ...(await pathProblems(reader, spec, checked)));
      const newCheckpoints = (await reader.checkpointVersions()).filter((v) => checked.includes(v));
      problems.push(...(await checkpointProblems(reader, spec, newCheckpoints)));
      if (checked.length) lastChecked.set(spec.name, checked.at(-1)!);
      // A table no commit touched since its last check, against the same model, answers as it did
      // (vacuum, which deletes files without a commit, asks for every table to be read again).
      const previous = latestChecked.get(spec.name);
      if (!options.uncachedRows && previous !== undefined && previous.version === lastChecked.get(spec.name) && previous.model === model) continue;
      latestChecked.set(spec.name, { version: lastChecked.get(spec.name)!, model: model! });
      // A fresh reader starts from the newest checkpoint, as another engine would.
      const fresh = new DeltaTableReader(path.join(lake, 'tables', spec.name), options.uncachedRows ? new Map() : rowCache);
      problems.push(...(await latestProblems(fresh, spec, model!, mode.protocol)));
    }
    return problems;
  }

  files.forEach((lines, i) => {
    it(`file ${i + 1} of ${files.length} ingested, then run: every new version of every table answers as the model`, async () => {
      await cli('ingest', writeNdjson(path.join(work, `commands-${i + 1}.ndjson`), lines));
      ingested.push(...lines);
      model = new ModelAtPositions(ingested, lake);
      await cli('run');
      // A message per step: vitest folds failures with equal messages into one report.
      expect(await tablesProblems(), `after file ${i + 1} and run`).toEqual([]);
    }, STEP_TIMEOUT);
  });

  it('the runs went through a Delta checkpoint in every table, and through compaction (dataChange=false commits)', async () => {
    const missing: string[] = [];
    let rearrangements = 0;
    let withDeletionVectors = 0;
    for (const spec of TABLES) {
      const reader = readers.get(spec.name)!;
      if ((await reader.checkpointVersions()).length === 0) missing.push(`${spec.name} has no checkpoint`);
      rearrangements += (await findDataChangeViolations(reader)).checkedVersions.length;
      for (const version of await reader.versions()) {
        withDeletionVectors += (await reader.commitActions(version)).filter((a) => 'add' in a && a.add.deletionVector).length;
      }
    }
    // Without these the scenario would not test reads across compaction and checkpoints.
    expect(missing).toEqual([]);
    expect(rearrangements, 'no table has a dataChange=false commit: the runs never reached compaction').toBeGreaterThan(0);
    if (mode.deletionVectors) expect(withDeletionVectors, 'no add carries a deletion vector: the mode was not exercised').toBeGreaterThan(0);
  }, STEP_TIMEOUT);

  for (const spec of TABLES) {
    it(`rebuild ${spec.name}: the switched-in version and every table answer as the model`, async () => {
      await cli('rebuild', spec.name);
      expect(await tablesProblems(), `after rebuild ${spec.name}`).toEqual([]);
    }, STEP_TIMEOUT);
  }

  it(`rollback ${ROLLED_BACK}: the version before its rebuild, restored, answers as the model`, async () => {
    await cli('rollback', ROLLED_BACK);
    expect(await tablesProblems(), `after rollback ${ROLLED_BACK}`).toEqual([]);
  }, STEP_TIMEOUT);

  it('every dataChange=false commit in the whole log of every table keeps the rows it rearranges', async () => {
    const violations: string[] = [];
    for (const spec of TABLES) {
      for (const v of (await findDataChangeViolations(readers.get(spec.name)!)).violations) {
        violations.push(`${spec.name} v${v.version}: ${v.droppedRows} of ${v.removedRows} removed rows are not in the ${v.addedRows} added; ${v.newRows} added rows are new; table ${v.tableRowsBefore} -> ${v.tableRowsAfter} rows`);
      }
    }
    expect(violations).toEqual([]);
  }, STEP_TIMEOUT);

  it('each table has the columns and Delta types of its straight-read view, plus only documented extras', async () => {
    const problems: string[] = [];
    for (const spec of TABLES) problems.push(...columnProblems(await readers.get(spec.name)!.snapshot(), spec));
    expect(problems).toEqual([]);
  }, STEP_TIMEOUT);

  it('vacuum --retention-hours 0: every table still reads, from the files left, as the model', async () => {
    await cli('vacuum', '--retention-hours', '0');
    expect(await tablesProblems({ uncachedRows: true }), 'after vacuum').toEqual([]);
  }, STEP_TIMEOUT);
});
}
