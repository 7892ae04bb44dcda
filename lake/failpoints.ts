/**
 * Named crash points for fault-injection tests: EVENTLAKE_FAILPOINTS="projection.afterDataFile"
 * (comma-separated) makes the process die at that point as abruptly as SIGKILL would, so tests can
 * show that recovery loses and doubles nothing. Unset in normal use: the check is one lookup.
 */
const armed = new Set((process.env.EVENTLAKE_FAILPOINTS ?? '').split(',').filter(Boolean));

export function failpoint(name: string): void {
  if (armed.has(name)) process.kill(process.pid, 'SIGKILL');
}
