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
