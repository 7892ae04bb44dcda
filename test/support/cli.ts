import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: tests run the real CLI from here, with its jobs.config.json. */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(REPO, 'bin', 'eventlake.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `eventlake ...args` as a user would (a real process, real files). */
export function eventlake(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { cwd: REPO, env: { ...process.env, ...options.env }, maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : error.signal ? 128 + 9 : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}

/** Runs the CLI and parses its JSON output, failing loudly with stderr when it did not succeed. */
export async function eventlakeJson<T = unknown>(args: string[], options: { input?: string } = {}): Promise<T> {
  const result = await eventlake([...args, '--json'], options);
  if (result.code !== 0) throw new Error(`eventlake ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

export function tempDir(prefix = 'eventlake-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes commands (objects, or raw strings for malformed lines) as an NDJSON file. */
export function writeNdjson(file: string, lines: (object | string)[]): string {
  fs.writeFileSync(file, `${lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')}\n`);
  return file;
}
