import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../support/server.js';

/** Threads of a process, from /proc (Linux: where the service runs and these tests run). */
function threads(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^Threads:\s+(\d+)$/m.exec(status)![1]);
}

describe('`serve` sizes libuv\'s thread pool for its DuckDB statements and file I/O', () => {
  let server: RunningServer | null = null;
  afterEach(async () => {
    await server?.stop();
    server = null;
  });

  it('starts with 32 pool threads (not libuv\'s default 4), so a command\'s short fold statements do not queue behind long commits', async () => {
    const configured = process.env.UV_THREADPOOL_SIZE;
    delete process.env.UV_THREADPOOL_SIZE;
    try {
      server = await startServer();
    } finally {
      if (configured !== undefined) process.env.UV_THREADPOOL_SIZE = configured;
    }
    // The pool's threads start together on its first use, which listening has long passed.
    expect(threads(server.child.pid!)).toBeGreaterThanOrEqual(32);
  }, 120_000);

  it('keeps a pool size the operator set', async () => {
    server = await startServer({ env: { UV_THREADPOOL_SIZE: '4' } });
    expect(threads(server.child.pid!)).toBeLessThan(32);
  }, 120_000);
});
