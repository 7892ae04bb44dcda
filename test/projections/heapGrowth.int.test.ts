/**
 * The passes hold V8's heap near its live objects (memoryBudget.ts, holdHeapGrowth): a process
 * that keeps a row cache's worth of long-lived rows while batches of records churn through it
 * (each living through a few batches, so promoted and then garbage) must not let the heap grow
 * to a multiple of them, as V8 does by default. Each side runs in its own Node process (the flag
 * is process-wide) with the built code (`npm run build`).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const BUDGET = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/projections/memoryBudget.js');

const CHURN = `
  if (process.argv[1] === 'hold') (await import(${JSON.stringify(BUDGET)})).holdHeapGrowth();
  const cache = new Map();
  const inFlight = [];
  let maxHeap = 0;
  for (let batch = 0; batch < 120; batch++) {
    const records = [];
    for (let i = 0; i < 25000; i++) records.push({ id: 'order-' + batch + '-' + i, status: 'placed', total: i * 1.5, at: 'T' + i });
    inFlight.push(records);
    if (inFlight.length > 3) inFlight.shift();
    for (let i = 0; i < 25000; i += 5) cache.set('k' + ((batch * 5000 + i / 5) % 200000), { ...records[i], batch });
    await new Promise((resolve) => setImmediate(resolve));
    maxHeap = Math.max(maxHeap, process.memoryUsage().heapTotal);
  }
  console.log(JSON.stringify({ maxHeap, rows: cache.size }));`;

const maxHeap = async (mode: string) => JSON.parse((await promisify(execFile)(process.execPath, ['--input-type=module', '-e', CHURN, mode])).stdout) as { maxHeap: number; rows: number };

describe("a pass's heap", () => {
  test('stays near its live rows instead of growing to a multiple of them', async () => {
    const [loose, held] = await Promise.all([maxHeap('default'), maxHeap('hold')]);
    expect(held.rows).toBe(200000);
    expect(held.maxHeap).toBeLessThan(loose.maxHeap * 0.7);
  });
});
