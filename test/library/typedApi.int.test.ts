import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { REPO } from '../support/cli.js';

/**
 * The typed API as a user's compiler sees it: the init template's domain and tests, plus
 * typedApi.check.ts (what must and must not compile), type-checked by tsc against the package's
 * built declarations, imported by the package's own name from a project inside the repository.
 */
const project = path.join(REPO, `.typecheck-${randomUUID().slice(0, 8)}`);
afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

it('the template and the typing checks compile, and every @ts-expect-error is an error', async () => {
  fs.cpSync(path.join(REPO, 'templates', 'init', 'src'), path.join(project, 'src'), { recursive: true });
  fs.cpSync(path.join(REPO, 'templates', 'init', 'test'), path.join(project, 'test'), { recursive: true });
  fs.copyFileSync(path.join(REPO, 'templates', 'init', 'tsconfig.json'), path.join(project, 'tsconfig.json'));
  fs.copyFileSync(path.join(REPO, 'test', 'library', 'typedApi.check.ts'), path.join(project, 'test', 'typedApi.check.ts'));
  const result = await new Promise<{ code: number; stdout: string }>((resolve) =>
    execFile(process.execPath, [path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { cwd: project }, (error, stdout) =>
      resolve({ code: error ? 1 : 0, stdout }),
    ),
  );
  expect(result.stdout).toBe('');
  expect(result.code).toBe(0);
}, 600_000);
