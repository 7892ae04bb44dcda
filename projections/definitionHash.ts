import { createHash } from 'node:crypto';
import type { Projection } from './projection.js';

/**
 * A fingerprint of what a projection does: its columns, SQL and the source text of its
 * functions. If it changes while `version` does not, the read model no longer matches the code
 * and `status` says so.
 */
export function definitionHash(projection: Projection): string {
  const parts: string[] = [projection.kind, projection.source, JSON.stringify(projection.columns)];
  for (const [key, value] of Object.entries(projection).sort(([a], [b]) => a.localeCompare(b))) {
    if (typeof value === 'function') parts.push(`${key}:${value.toString()}`);
    else if (key === 'sql' || key === 'key' || key === 'orderBy') parts.push(`${key}:${String(value)}`);
    else if (key === 'merge' || key === 'validity') parts.push(`${key}:${JSON.stringify(value)}`);
  }
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 16);
}
