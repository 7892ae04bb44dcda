/** Rows compared as a multiset: each row as canonical JSON (keys sorted) -> how many times it occurs. */
export function rowMultiset(rows: Record<string, unknown>[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const row of rows) {
    const key = canonicalRow(row);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

export function canonicalRow(row: Record<string, unknown>): string {
  return JSON.stringify(Object.keys(row).sort().map((k) => [k, row[k]]));
}

/** The rows of `a` that `b` does not hold, each as often as it is missing. */
export function multisetDifference(a: Map<string, number>, b: Map<string, number>): string[] {
  const missing: string[] = [];
  for (const [row, count] of a) for (let i = b.get(row) ?? 0; i < count; i++) missing.push(row);
  return missing;
}
