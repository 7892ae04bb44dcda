import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageInfo } from './packageInfo.js';

/** templates/init at the package root: this file runs from dist/cli/, or from cli/ under vitest. */
const TEMPLATE_DIR = [new URL('../../templates/init/', import.meta.url), new URL('../templates/init/', import.meta.url)]
  .map((url) => fileURLToPath(url))
  .find((dir) => existsSync(path.join(dir, 'jobs.config.json')))!;

/** npm leaves `.gitignore` files out of packages, so the template carries it under another name. */
const RENAMED: Record<string, string> = { gitignore: '.gitignore' };

export interface InitOptions {
  /** How the project depends on eventlake (a version range, a tarball, a git URL); default `^<this version>`. */
  dependency?: string;
}

/**
 * Scaffolds a project that depends on eventlake: package.json, tsconfig, jobs.config.json, a
 * sample domain in TypeScript (bank accounts: a state and a history projection, views) with its
 * tests, sample commands and a README. Refuses a folder that already has files in it.
 */
export async function initProject(dir: string, options: InitOptions = {}): Promise<string[]> {
  const target = path.resolve(dir);
  const existing = await fs.readdir(target).catch(() => []);
  if (existing.length > 0) throw new Error(`init: ${target} is not empty (${existing.slice(0, 3).join(', ')}${existing.length > 3 ? ', ...' : ''}); choose a new folder`);
  const { version, devDependencies } = packageInfo();
  const values: Record<string, string> = {
    name: packageName(path.basename(target)),
    eventlake: options.dependency ?? `^${version}`,
    typescript: devDependencies.typescript,
    vitest: devDependencies.vitest,
    '@types/node': devDependencies['@types/node'],
  };
  const written: string[] = [];
  for (const file of await templateFiles(TEMPLATE_DIR)) {
    const relative = path.relative(TEMPLATE_DIR, file);
    const destination = path.join(target, path.dirname(relative), RENAMED[path.basename(relative)] ?? path.basename(relative));
    const text = (await fs.readFile(file, 'utf8')).replace(/\{\{([@\w/-]+)\}\}/g, (placeholder, key: string) => values[key] ?? placeholder);
    await fs.mkdir(path.dirname(destination), { recursive: true });
    await fs.writeFile(destination, text);
    written.push(path.relative(target, destination));
  }
  return written.sort();
}

async function templateFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? templateFiles(path.join(dir, e.name)) : [path.join(dir, e.name)])));
  return nested.flat();
}

/** An npm package name from a folder name: lower case, URL-safe characters only. */
function packageName(folder: string): string {
  const name = folder.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+/, '');
  return name || 'eventlake-project';
}
