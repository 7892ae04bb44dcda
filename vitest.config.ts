import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests spawn the real CLI and DuckDB; two cores, so keep parallelism modest.
export default defineConfig({
  // `eventlake` in the init template's tests (run here too, so the template cannot rot) is this
  // repository's public API module.
  resolve: { alias: { eventlake: fileURLToPath(new URL('./api/index.ts', import.meta.url)) } },
  test: {
    include: ['test/**/*.test.ts', 'templates/init/test/**/*.test.ts'],
    // Generous: the end-to-end tests spawn the CLI many times and take 20-60 s on a quiet 2-core
    // machine, several times that when the cores are shared; a hang still fails, just later.
    globalSetup: ['test/support/runTempDir.ts'],
    testTimeout: 240_000,
    hookTimeout: 240_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
