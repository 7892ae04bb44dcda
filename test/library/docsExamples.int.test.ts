import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../support/cli.js';

/**
 * docs/domains.md cannot rot: its ```lang file=PATH blocks are written into a project (blocks
 * of one file concatenated in order), type-checked with tsc, their tests run with vitest, and
 * its shell lines run with the CLI, each `# {json}` line compared with what the command before
 * it printed. The project lives inside the repository, so `import ... from 'eventlake'` resolves
 * to this package by its own name (package.json `exports`, built by `npm test`'s pretest).
 */
const LONG = 900_000;
const markdown = fs.readFileSync(path.join(REPO, 'docs', 'domains.md'), 'utf8');

function files(): Map<string, string> {
  const found = new Map<string, string>();
  for (const match of markdown.matchAll(/```\w+ file=(\S+)\n([\s\S]*?)```/g)) found.set(match[1], (found.get(match[1]) ?? '') + match[2]);
  return found;
}

/** The shell lines in order, each with the JSON the docs say it prints (if any). */
function shellSteps(): { args: string[]; expected: unknown }[] {
  const lines = [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1].split('\n'));
  const steps: { args: string[]; expected: unknown }[] = [];
  for (const line of lines) {
    if (line.startsWith('npx eventlake ') && !line.includes(' init ')) steps.push({ args: shellWords(line.slice('npx eventlake '.length).replace(/\s+#.*$/, '')), expected: undefined });
    else if (line.startsWith('# ') && steps.length > 0) steps[steps.length - 1].expected = JSON.parse(line.slice(2));
  }
  return steps;
}

function shellWords(text: string): string[] {
  return [...text.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
}

function run(command: string, args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: { ...process.env, CI: '1' }, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('docs/domains.md examples', () => {
  const project = path.join(REPO, `.docs-test-${randomUUID().slice(0, 8)}`);

  beforeAll(() => {
    for (const [file, text] of files()) {
      fs.mkdirSync(path.dirname(path.join(project, file)), { recursive: true });
      fs.writeFileSync(path.join(project, file), text);
    }
    fs.writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, noEmit: true, types: ['node'] }, include: ['src', 'test'] }),
    );
    fs.writeFileSync(
      path.join(project, 'vitest.config.mjs'),
      `export default { resolve: { alias: { eventlake: ${JSON.stringify(path.join(REPO, 'api', 'index.ts'))} } }, test: { include: ['test/**/*.test.ts'] } };\n`,
    );
  });
  afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

  it('has the snippets the test expects', () => {
    expect([...files().keys()].sort()).toEqual(['commands.ndjson', 'jobs.config.json', 'src/library.sql', 'src/library.ts', 'src/upcasting.ts', 'test/library.test.ts']);
    expect(shellSteps().length).toBeGreaterThanOrEqual(4);
  });

  it('type-checks against the package types', async () => {
    const result = await run(process.execPath, [path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], project);
    expect(result.code, result.stdout).toBe(0);
  }, LONG);

  it('runs its tests', async () => {
    const result = await run(process.execPath, [path.join(REPO, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--root', project, '--config', path.join(project, 'vitest.config.mjs')], project);
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/5 passed/);
  }, LONG);

  it('runs its shell lines, each printing what the docs say', async () => {
    for (const step of shellSteps()) {
      const result = await run(process.execPath, [path.join(REPO, 'bin', 'eventlake.js'), ...step.args], project);
      expect(result.code, `eventlake ${step.args.join(' ')}: ${result.stderr}`).toBe(0);
      if (step.expected !== undefined) expect(JSON.parse(result.stdout), step.args.join(' ')).toEqual(step.expected);
    }
  }, LONG);
});
