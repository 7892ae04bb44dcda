/**
 * Named fault points for fault-injection tests. EVENTLAKE_FAILPOINTS="name,name=ENOSPC" arms
 * them for a process: a bare name makes the process die at that point as abruptly as SIGKILL
 * would; `name=CODE` makes the call there fail with that errno code (ENOSPC, EROFS, EIO...).
 * Tests in the same process may arm them directly. Unarmed, a check is one map lookup.
 */
const armed = new Map<string, string>();
for (const entry of (process.env.EVENTLAKE_FAILPOINTS ?? '').split(',').filter(Boolean)) {
  const [name, code] = entry.split('=');
  armed.set(name, code ?? 'KILL');
}

export function failpoint(name: string): void {
  const action = armed.get(name);
  if (action === undefined) return;
  if (action === 'KILL') process.kill(process.pid, 'SIGKILL');
  throw Object.assign(new Error(`${action}: injected failure at ${name}`), { code: action });
}

/** Arms (`code`) or disarms (null) a fault point in this process. */
export function armFailpoint(name: string, code: string | null): void {
  if (code === null) armed.delete(name);
  else armed.set(name, code);
}

/** Holds armed by tests in this process: code reaching `heldAt(name)` waits until the hold is released. */
const holds = new Map<string, { reached: () => void; released: Promise<void> }>();

/** Waits while a test holds this point (see `holdAt`); unarmed, one map lookup. */
export async function heldAt(name: string): Promise<void> {
  const hold = holds.get(name);
  if (!hold) return;
  hold.reached();
  await hold.released;
}

/**
 * Holds the point `name` in this process (a test's way to keep, say, a live commit from landing
 * while it looks at what is shown meanwhile): `reached` resolves when code first waits there,
 * `release` lets it (and every later arrival) go on.
 */
export function holdAt(name: string): { reached: Promise<void>; release: () => void } {
  let reached!: () => void;
  let release!: () => void;
  const reachedOnce = new Promise<void>((resolve) => (reached = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  holds.set(name, { reached, released });
  return {
    reached: reachedOnce,
    release: () => {
      holds.delete(name);
      release();
    },
  };
}
