import type { DeletionVectorDescriptor } from './actions.js';

/**
 * The identity of a logical file in log replay: a data file's path together with the deletion
 * vector that hides some of its rows (PROTOCOL.md "Add File and Remove File"). Pure.
 */

/**
 * The DV's `uniqueId` (PROTOCOL.md "Derived Fields"): `<storageType><pathOrInlineDv>`, plus
 * `@<offset>` when an offset is given.
 */
export function dvUniqueId(dv: DeletionVectorDescriptor): string {
  // A checkpoint read through DuckDB may give an absent offset as null.
  const offset = dv.offset ?? undefined;
  return offset === undefined ? `${dv.storageType}${dv.pathOrInlineDv}` : `${dv.storageType}${dv.pathOrInlineDv}@${offset}`;
}

/**
 * The key of a logical file, (path, DV uniqueId): the path alone for a file without a DV, so
 * tables without DVs key their files exactly as before.
 */
export function logicalFileKey(rawPath: string, dv: DeletionVectorDescriptor | undefined): string {
  return dv ? `${rawPath}\u0000${dvUniqueId(dv)}` : rawPath;
}

/** True when two file actions name the same deletion vector (or both none). */
export function sameDeletionVector(a: { deletionVector?: DeletionVectorDescriptor }, b: { deletionVector?: DeletionVectorDescriptor }): boolean {
  const id = (dv: DeletionVectorDescriptor | undefined) => (dv ? dvUniqueId(dv) : null);
  return id(a.deletionVector) === id(b.deletionVector);
}
