import type { DeltaSnapshot, DeltaTableReader } from '../../support/deltaReader/deltaTableReader.js';
import type { ModelAtPositions } from './modelAtPositions.js';
import { DOCUMENTED_EXTRA_COLUMNS, type TableSpec } from './tableCatalogue.js';

/**
 * Checks of one table as a Delta reader sees it: a version's rows against the reference model at
 * that version's txn positions, the latest version's protocol and columns, the checkpoints, and
 * the paths the log names. Each returns problems as sentences with numbers.
 */
export interface TxnPositions {
  positions: Map<string, number>;
  problems: string[];
}

/** stream -> last sequence applied, from the `job@projectionVersion/stream` txn actions. */
export function txnPositions(snapshot: DeltaSnapshot, spec: TableSpec): TxnPositions {
  const positions = new Map<string, number>();
  const projectionVersions = new Set<string>();
  for (const [appId, version] of snapshot.txns) {
    const match = appId.match(/^(.+)@([^/]+)\/(.+)$/);
    if (!match || match[1] !== spec.name) continue;
    projectionVersions.add(match[2]);
    positions.set(match[3], version);
  }
  const problems: string[] = [];
  if (projectionVersions.size > 1) problems.push(`${spec.name} v${snapshot.version}: txn actions of ${projectionVersions.size} projection versions (${[...projectionVersions].join(', ')})`);
  const streams = [...positions.keys()].filter((s) => (spec.source === 'commands' ? s !== 'commands' : !/^p\d+$/.test(s)));
  if (streams.length) problems.push(`${spec.name} v${snapshot.version}: txn for unexpected stream(s) ${streams.join(', ')}`);
  return { positions, problems };
}

/** The rows of `version` against the model at its positions. */
export async function versionProblems(reader: DeltaTableReader, spec: TableSpec, version: number, model: ModelAtPositions): Promise<string[]> {
  const snapshot = await reader.snapshot(version);
  const { positions, problems } = txnPositions(snapshot, spec);
  const rows = await reader.rows(version);
  const outcomes = model.outcomes.slice(0, positions.get('commands') ?? 0);
  return [...problems, ...spec.questions(rows, model.at(positions), outcomes).map((p) => `v${version} ${p}`)];
}

/** Every version after `after`, summed up per table: how many differ, and the first one's problems. */
export async function newVersionsProblems(reader: DeltaTableReader, spec: TableSpec, after: number, model: ModelAtPositions): Promise<{ checked: number[]; problems: string[] }> {
  const checked = (await reader.versions()).filter((v) => v > after);
  const failing: { version: number; problems: string[] }[] = [];
  for (const version of checked) {
    const problems = await versionProblems(reader, spec, version, model);
    if (problems.length) failing.push({ version, problems });
  }
  if (failing.length === 0) return { checked, problems: [] };
  const first = failing[0];
  return { checked, problems: [`${spec.name}: ${failing.length} of ${checked.length} new versions (v${checked[0]}..v${checked.at(-1)}) differ from the model; first v${first.version}: ${first.problems.join(' | ')}`] };
}

/** The latest version: caught up to the end of the log, the expected protocol, and every row right. */
export async function latestProblems(reader: DeltaTableReader, spec: TableSpec, model: ModelAtPositions, protocol: object): Promise<string[]> {
  const snapshot = await reader.snapshot();
  const problems: string[] = [];
  const { positions } = txnPositions(snapshot, spec);
  if (spec.source === 'events') {
    const end = model.endOfLog();
    const behind = [...end].filter(([stream, sequence]) => (positions.get(stream) ?? 0) !== sequence);
    if (behind.length) problems.push(`${spec.name}: txn positions ${JSON.stringify([...positions])} are not the end of the log ${JSON.stringify([...end])}`);
  } else if ((positions.get('commands') ?? 0) !== model.outcomes.length) {
    problems.push(`${spec.name}: txn position ${positions.get('commands')} in the command log, which holds ${model.outcomes.length} outcomes`);
  }
  const { minReaderVersion, minWriterVersion, readerFeatures, writerFeatures } = snapshot.protocol;
  const actual = { minReaderVersion, minWriterVersion, ...(readerFeatures ? { readerFeatures } : {}), ...(writerFeatures ? { writerFeatures } : {}) };
  if (JSON.stringify(actual) !== JSON.stringify(protocol)) problems.push(`${spec.name}: protocol ${JSON.stringify(actual)}, expected ${JSON.stringify(protocol)}`);
  return [...problems, ...(await versionProblems(reader, spec, snapshot.version, model))];
}

/** The table's columns and types equal its straight-read view's, plus only the documented extras. */
export function columnProblems(snapshot: DeltaSnapshot, spec: TableSpec): string[] {
  if (!spec.viewColumns) return [];
  const extras = Object.fromEntries(Object.entries(DOCUMENTED_EXTRA_COLUMNS[spec.name] ?? {}).map(([column, why]) => [column, why.split(':')[0]]));
  const allowed: Record<string, string> = { ...spec.viewColumns, ...extras };
  const have = Object.fromEntries(snapshot.fields.map((f) => [f.name, f.type]));
  const problems: string[] = [];
  const undocumented = Object.keys(have).filter((c) => !(c in allowed));
  const missing = Object.keys(spec.viewColumns).filter((c) => !(c in have));
  const mistyped = Object.keys(have).filter((c) => c in allowed && allowed[c] !== have[c]);
  if (undocumented.length) problems.push(`${spec.name}: column(s) ${undocumented.join(', ')} are in neither the view nor the documented extras`);
  if (missing.length) problems.push(`${spec.name}: view column(s) ${missing.join(', ')} missing from the table`);
  if (mistyped.length) problems.push(`${spec.name}: ${mistyped.map((c) => `${c} is ${have[c]}, the view's is ${allowed[c]}`).join('; ')}`);
  return problems;
}

/** Each checkpoint stands for the JSON commits it replaces (same live files, txns, metaData, protocol). */
export async function checkpointProblems(reader: DeltaTableReader, spec: TableSpec, versions: number[]): Promise<string[]> {
  const problems: string[] = [];
  for (const version of versions) {
    const viaCheckpoint = await reader.snapshot(version);
    const viaJson = await reader.snapshot(version, { jsonOnly: true });
    const same =
      JSON.stringify(viaCheckpoint.files.map((f) => f.path).sort()) === JSON.stringify(viaJson.files.map((f) => f.path).sort()) &&
      JSON.stringify([...viaCheckpoint.txns].sort()) === JSON.stringify([...viaJson.txns].sort()) &&
      viaCheckpoint.metaData.schemaString === viaJson.metaData.schemaString &&
      JSON.stringify(viaCheckpoint.protocol) === JSON.stringify(viaJson.protocol);
    if (!same) problems.push(`${spec.name}: the checkpoint at v${version} differs from replaying the JSON commits up to it`);
  }
  return problems;
}

/** Paths in the log are relative and inside the table: a copied lake must never read the original's files. */
export async function pathProblems(reader: DeltaTableReader, spec: TableSpec, versions: number[]): Promise<string[]> {
  const absolute: string[] = [];
  for (const version of versions) {
    for (const action of await reader.commitActions(version)) {
      const file = 'add' in action ? action.add : 'remove' in action ? action.remove : null;
      if (file && (/^[a-z][a-z0-9+.-]*:/i.test(file.path) || file.path.startsWith('/'))) absolute.push(`v${version} ${file.path}`);
    }
  }
  return absolute.length ? [`${spec.name}: ${absolute.length} absolute path(s) in the log, e.g. ${absolute[0]}`] : [];
}
