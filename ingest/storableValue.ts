/*
 * JSON values every sink stores faithfully: the NDJSON log (JSON.stringify), DuckDB's JSON and
 * VARCHAR, Parquet, and an Event Hubs body. Each of these was once accepted and then broke or
 * altered something downstream:
 *
 * - a lone UTF-16 surrogate ("\udfff"): JSON.stringify writes it escaped, but DuckDB refuses the
 *   line ("invalid high surrogate"), so every projection reading it halted;
 * - a number beyond double range (1e309): JSON.parse makes it Infinity, which JSON.stringify
 *   writes as null;
 * - an integer beyond 2^53 (12345678901234567890): JSON.parse rounds it (12345678901234567000),
 *   so what is stored is not what was sent.
 *
 * They are rejected with the field's JSON pointer rather than normalised: a changed value would
 * be stored silently, and the sender can say what they meant.
 */

/** Where a value first breaks the rules, and which rule. */
export interface Unstorable {
  /** JSON pointer (RFC 6901) of the offending value or key, e.g. "/metadata/amount". */
  path: string;
  message: string;
}

export const STORABLE_RULES =
  'strings (and keys) must be well-formed UTF-16 (no lone surrogates); numbers must be finite, and integers within ±(2^53−1)';

/**
 * The first value (or key) under `value` that a sink could not store as sent; null when all can
 * be. Iterative: no stack risk. Every command goes through it, so the usual case (all storable)
 * is a walk without paths or allocations (2.3 us per command with paths, measured, against ~11 us
 * of ingest's whole CPU per command); the paths are worked out only for a refusal.
 */
export function firstUnstorable(value: unknown, root = ''): Unstorable | null {
  return allStorable(value) ? null : locateUnstorable(value, root);
}

function allStorable(value: unknown): boolean {
  const stack = [value];
  while (stack.length > 0) {
    const current = stack.pop();
    if (typeof current === 'string') {
      if (!current.isWellFormed()) return false;
    } else if (typeof current === 'number') {
      // Every double beyond 2^53 in magnitude is an integer: beyond the safe range, or not finite.
      if (!(Math.abs(current) <= Number.MAX_SAFE_INTEGER)) return false;
    } else if (Array.isArray(current)) {
      for (const item of current) stack.push(item);
    } else if (current !== null && typeof current === 'object') {
      for (const key of Object.keys(current)) {
        if (!key.isWellFormed()) return false;
        stack.push((current as Record<string, unknown>)[key]);
      }
    }
  }
  return true;
}

function locateUnstorable(value: unknown, root: string): Unstorable | null {
  const stack: [unknown, string][] = [[value, root]];
  while (stack.length > 0) {
    const [current, path] = stack.pop()!;
    const problem = unstorableScalar(current);
    if (problem) return { path: path || '/', message: problem };
    if (current === null || typeof current !== 'object') continue;
    const entries = Array.isArray(current) ? current.map((v, i) => [String(i), v] as const) : Object.entries(current);
    // Pushed in reverse, so the first offending field in document order is the one reported.
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, child] = entries[i];
      const childPath = `${path}/${pointerToken(key)}`;
      if (!key.isWellFormed()) return { path: childPath, message: 'key holds a lone UTF-16 surrogate' };
      stack.push([child, childPath]);
    }
  }
  return null;
}

function unstorableScalar(value: unknown): string | null {
  if (typeof value === 'string') return value.isWellFormed() ? null : 'holds a lone UTF-16 surrogate (not valid Unicode)';
  if (typeof value !== 'number') return null;
  if (!Number.isFinite(value)) return 'is out of the range of a double (±1.8e308)';
  if (Number.isInteger(value) && !Number.isSafeInteger(value)) return 'is an integer beyond ±(2^53−1), which JSON numbers cannot carry exactly: send it as a string';
  return null;
}

/** A key as a JSON pointer token, with a lone surrogate shown as U+FFFD so the message itself is storable. */
function pointerToken(key: string): string {
  return key.toWellFormed().replaceAll('~', '~0').replaceAll('/', '~1');
}

/** `text` with any lone surrogate replaced by U+FFFD (the text itself when it has none: the usual, cheap case). */
export function wellFormed<T extends string | null>(text: T): T {
  return (text === null || text.isWellFormed() ? text : text.toWellFormed()) as T;
}
