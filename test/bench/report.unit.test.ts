import { describe, expect, it } from 'vitest';
import { markdownTable, notMeasured, svgChart, type BenchReport, type BenchResult } from '../../bench/report.js';
import { percentile } from '../../bench/stats.js';

const measured: BenchResult = {
  name: 'query <as_of> & co',
  value: 12.5,
  unit: 'ms (p50)',
  baseline: 250,
  baselineLabel: 'raw log',
  ratio: 20,
  ratioMeaning: 'raw / views (times faster)',
  goal: '>= 10x faster',
  met: true,
};

const report = (results: BenchResult[]): BenchReport => ({
  machine: { cpus: 2, cpuModel: 'test', memory: 1, node: 'v20', platform: 'linux', loadStart: [1, 1, 1], loadEnd: [1, 1, 1] },
  events: 2000,
  commit: null,
  command: 'npm run bench',
  startedAt: '2026-01-01T00:00:00Z',
  durationSeconds: 1,
  results,
});

describe('bench report', () => {
  it('takes nearest-rank percentiles', () => {
    const values = [5, 1, 4, 2, 3, 6, 7, 8, 9, 10];
    expect(percentile(values, 50)).toBe(5);
    expect(percentile(values, 99)).toBe(10);
    expect(percentile([42], 99)).toBe(42);
    expect(percentile([], 50)).toBeNaN();
  });

  it('tables a figure that was not measured without inventing numbers', () => {
    const table = markdownTable([measured, notMeasured('peer ingest vs Emmett', 'commands/s', 'skipped (--skip peer)')]);
    expect(table).toContain('| query <as_of> & co | 12.50 ms (p50) | 250 ms (p50) | 20.00× (raw / views (times faster)) | >= 10x faster: met |');
    expect(table).toContain('| peer ingest vs Emmett | not measured | - | - |  |');
  });

  it('draws one bar per measured ratio and escapes labels', () => {
    const svg = svgChart(report([measured, notMeasured('freshness p50', 'ms', 'serve did not start')]));
    expect(svg).toContain('query &lt;as_of&gt; &amp; co');
    expect(svg.match(/<rect [^>]*fill="#2e9e4f"/g)).toHaveLength(1);
    expect(svg).toContain('not measured');
  });
});
