import fs from 'node:fs';
import path from 'node:path';

/** A V8 CPU profile as `node --cpu-prof` writes it. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  function: string;
  where: string;
  ms: number;
  share: number;
}

/** Self time per function (summed over its call sites), heaviest first. */
export function selfTimes(profile: CpuProfile): SelfTime[] {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, SelfTime>();
  let all = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    all += us;
    const frame = byNode.get(id)!.callFrame;
    const where = frame.url ? `${frame.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/')}:${frame.lineNumber + 1}` : '';
    const key = `${frame.functionName}@${where}`;
    const entry = totals.get(key) ?? { function: frame.functionName || '(anonymous)', where, ms: 0, share: 0 };
    entry.ms += us / 1000;
    totals.set(key, entry);
  });
  return [...totals.values()].map((t) => ({ ...t, share: t.ms / (all / 1000) })).sort((a, b) => b.ms - a.ms);
}

/** `node dist/bench/profileSummary.js FILE.cpuprofile [TOP]`: the top functions by self time. */
if (process.argv[1] && path.basename(process.argv[1]) === 'profileSummary.js') {
  const [file, top = '20'] = process.argv.slice(2);
  const rows = selfTimes(JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile).slice(0, Number(top));
  process.stdout.write('| self ms | share | function | where |\n|---:|---:|---|---|\n');
  for (const r of rows) process.stdout.write(`| ${Math.round(r.ms)} | ${(r.share * 100).toFixed(1)}% | ${r.function} | ${r.where} |\n`);
}
