import fs from 'node:fs';
import path from 'node:path';
import { REPO, tempDir } from './cli.js';

export interface FragileJob {
  name: string;
  projection: string;
  onError?: 'halt' | 'skip';
}

/**
 * A lake folder whose config loads the superchargers domain and test/fixtures/fragileDomain.mjs
 * (projections that fail, or make rows no table can store, on chosen registrations) with these jobs.
 */
export function fragileLake(jobs: FragileJob[]): { dir: string; config: string } {
  const dir = tempDir();
  const config = path.join(dir, 'jobs.config.json');
  fs.writeFileSync(config, JSON.stringify({ lake: './lake', domains: ['superchargers', path.join(REPO, 'test/fixtures/fragileDomain.mjs')], jobs }));
  return { dir, config };
}
