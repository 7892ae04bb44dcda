import { performance } from 'node:perf_hooks';
import { Duck, type JsonRow } from '../lake/duckdb.js';
import { LakeLayout } from '../lake/layout.js';
import { openReadOnlyViews } from '../views/query.js';
import { questions } from './baselines/rawLogQueries.js';
import { percentile } from './stats.js';
import type { BenchResult } from './report.js';

export interface QueryTiming {
  name: string;
  viewsMs: number[];
  rawMs: number[];
  agree: boolean;
}

/**
 * Figure 5: p50 latency of analysts' questions over the views database (opened read-only
 * in-process, as `eventlake query` does), next to DuckDB answering the same questions straight
 * from the lake log's NDJSON segments. Each query runs once to warm up, then `reps` times.
 */
export async function measureQueries(options: { lake: string; asOf: string; reps: number }): Promise<{ results: BenchResult[]; timings: QueryTiming[] }> {
  const layout = new LakeLayout(options.lake);
  const views = await openReadOnlyViews(layout);
  const raw = await Duck.open();
  const timings: QueryTiming[] = [];
  try {
    for (const question of questions(layout.root, options.asOf)) {
      const fromViews = await timed(views, question.views, options.reps);
      const fromRaw = await timed(raw, question.raw, options.reps);
      timings.push({ name: question.name, viewsMs: fromViews.ms, rawMs: fromRaw.ms, agree: sameRows(fromViews.rows, fromRaw.rows) });
    }
  } finally {
    views.close();
    raw.close();
  }
  const results = timings.map((t): BenchResult => {
    const ours = percentile(t.viewsMs, 50);
    const baseline = percentile(t.rawMs, 50);
    return {
      name: `query ${t.name}`,
      value: ours,
      unit: 'ms (p50)',
      baseline,
      baselineLabel: 'DuckDB over the raw event log (read_json of the NDJSON segments, arg_max / aggregates)',
      ratio: baseline / ours,
      ratioMeaning: 'raw / views (times faster)',
      goal: '>= 10x faster',
      met: baseline / ours >= 10,
      note: `${options.reps} runs each after a warm-up; results ${t.agree ? 'agree' : 'DIFFER'} between views and raw log`,
    };
  });
  return { results, timings };
}

async function timed(duck: Duck, sql: string, reps: number): Promise<{ ms: number[]; rows: JsonRow[] }> {
  let rows = await duck.rows(sql);
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const started = performance.now();
    rows = await duck.rows(sql);
    ms.push(performance.now() - started);
  }
  return { ms, rows };
}

/** Same rows in the same order, numbers equal to 1e-9 relative (sums of doubles may differ in the last bits). */
function sameRows(a: JsonRow[], b: JsonRow[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((row, i) => {
    const x = Object.values(row);
    const y = Object.values(b[i]);
    return x.length === y.length && x.every((v, j) => sameValue(v, y[j]));
  });
}

function sameValue(a: unknown, b: unknown): boolean {
  const n = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : null);
  const [x, y] = [n(a), n(b)];
  if (x !== null && y !== null) return Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y));
  return String(a) === String(b);
}
