import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * vitest global setup: every temporary folder of a test run (tests, the CLI processes they start,
 * DuckDB's spill files) goes under one folder, removed when the run ends. Without it each run
 * left thousands of lakes in /tmp (3,346 folders after a day's runs). os.tmpdir() follows TMPDIR,
 * and the test workers and their children inherit it. EVENTLAKE_KEEP_TEST_TMP=1 keeps the folder.
 */
export default function setup(): () => void {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'eventlake-tests-'));
  process.env.TMPDIR = root;
  return () => {
    if (process.env.EVENTLAKE_KEEP_TEST_TMP) console.log(`test files kept in ${root}`);
    else fs.rmSync(root, { recursive: true, force: true });
  };
}
