#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript compiled to dist/ by `npm install` (prepare) or `npm run build`.
// CommonJS (bin/package.json), so this file is read without libuv's thread pool, which is sized
// once, on its first use: an ES module entry is itself read through the pool, too late to size it.
//
// `serve`: every DuckDB statement of every live job (folds, commits written behind them, views
// merges) and every file read, write and fsync of the ingester share that pool, 4 threads by
// default. Under load, long statements (a copy-on-write COPY, a key read) held all four and a
// command's short fold statements queued behind them: `SET TimeZone` and a one-row DELETE took
// 230 ms each, traced at 20k events with a client ingesting (docs/design-notes.md, sixth round).
if (process.argv.slice(2).includes('serve')) process.env.UV_THREADPOOL_SIZE ??= '32';
import('../dist/cli/main.js').catch((error) => {
  if (error?.code === 'ERR_MODULE_NOT_FOUND') {
    console.error('eventlake: dist/ is missing; run `npm install` or `npm run build` first');
    process.exit(2);
  }
  throw error;
});
