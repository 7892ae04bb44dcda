import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The line a bench child prints last: its phase's result and its peak RSS. */
export const RESULT_MARKER = '@@bench-result ';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'child.js');

export interface ChildOutcome<T> {
  result: T;
  /** The child's peak resident set (process.resourceUsage().maxRSS), bytes: JS heap and DuckDB alike. */
  maxRssBytes: number;
}

export interface ChildOptions {
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
  env?: Record<string, string>;
}

/**
 * Runs one bench phase in a fresh Node process, so each figure starts from a cold heap and its
 * peak RSS is its own. The child reports its result on stdout; stderr passes through.
 */
export function runChild<T>(phase: string, input: unknown, options: ChildOptions = {}): Promise<ChildOutcome<T>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CHILD, phase, JSON.stringify(input)], {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.length > 1_000_000) stderr = stderr.slice(-100_000);
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARKER));
      if (code !== 0 || !line) {
        reject(new Error(`bench phase ${phase} failed (exit ${code ?? signal}):\n${stderr.slice(-4000)}${stdout.slice(-2000)}`));
        return;
      }
      resolve(JSON.parse(line.slice(RESULT_MARKER.length)) as ChildOutcome<T>);
    });
  });
}
