import type { AddAction, RemoveAction } from './actions.js';
import type { DeltaTableReader } from './deltaTableReader.js';
import { rowMultiset, multisetDifference } from './rowMultiset.js';

/**
 * `dataChange=false` promises that a commit only rearranges rows (PROTOCOL.md, "Add File and
 * Remove File": "the records in the removed file must be contained in one or more add file
 * actions in the same version"); readers tailing the log skip such commits. For every commit
 * whose add and remove actions all say dataChange=false, this checks that the live rows of the
 * removed logical files (after their deletion vectors) are, as a multiset, the rows the commit
 * adds, and that the table holds the same rows before and after it.
 */
export interface DataChangeViolation {
  version: number;
  removedRows: number;
  addedRows: number;
  /** removed rows that no add of the commit holds */
  droppedRows: number;
  /** added rows that no removed file held */
  newRows: number;
  tableRowsBefore: number;
  tableRowsAfter: number;
  /** a few of the dropped rows, to read in a failure message */
  droppedSample: string[];
}

export interface DataChangeReport {
  /** versions whose file actions all say dataChange=false */
  checkedVersions: number[];
  violations: DataChangeViolation[];
}

export async function findDataChangeViolations(reader: DeltaTableReader): Promise<DataChangeReport> {
  const report: DataChangeReport = { checkedVersions: [], violations: [] };
  for (const version of await reader.versions()) {
    if (version === 0) continue;
    const actions = await reader.commitActions(version);
    const adds = actions.flatMap((a) => ('add' in a ? [a.add] : []));
    const removes = actions.flatMap((a) => ('remove' in a ? [a.remove] : []));
    if (adds.length + removes.length === 0 || [...adds, ...removes].some((f) => f.dataChange !== false)) continue;
    report.checkedVersions.push(version);
    const violation = await checkRearrangement(reader, version, adds, removes);
    if (violation) report.violations.push(violation);
  }
  return report;
}

async function checkRearrangement(reader: DeltaTableReader, version: number, adds: AddAction[], removes: RemoveAction[]): Promise<DataChangeViolation | null> {
  const before = await reader.snapshot(version - 1);
  const after = await reader.snapshot(version);
  const removed = [];
  for (const file of removes) removed.push(...(await reader.fileRows(file, before)));
  const added = [];
  for (const file of adds) added.push(...(await reader.fileRows(file, after)));
  const removedSet = rowMultiset(removed);
  const addedSet = rowMultiset(added);
  const dropped = multisetDifference(removedSet, addedSet);
  const fresh = multisetDifference(addedSet, removedSet);
  const tableBefore = rowMultiset(await reader.rows(version - 1));
  const tableAfter = rowMultiset(await reader.rows(version));
  const tableChanged = multisetDifference(tableBefore, tableAfter).length + multisetDifference(tableAfter, tableBefore).length > 0;
  if (dropped.length === 0 && fresh.length === 0 && !tableChanged) return null;
  return {
    version,
    removedRows: removed.length,
    addedRows: added.length,
    droppedRows: dropped.length,
    newRows: fresh.length,
    tableRowsBefore: [...tableBefore.values()].reduce((a, b) => a + b, 0),
    tableRowsAfter: [...tableAfter.values()].reduce((a, b) => a + b, 0),
    droppedSample: dropped.slice(0, 3),
  };
}
