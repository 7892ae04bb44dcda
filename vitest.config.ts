import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests spawn the real CLI and DuckDB; two cores, so keep parallelism modest.
export default defineConfig({
  // `eventlake` in the init template's tests (run here too, so the template cannot rot) is this
  // repository's public API module.
  resolve: { alias: { eventlake: fileURLToPath(new URL('./api/index.ts', import.meta.url)) } },
  test: {
    include: ['test/**/*.test.ts', 'templates/init/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
