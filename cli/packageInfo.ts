import { readFileSync } from 'node:fs';

interface PackageJson {
  version: string;
  devDependencies: Record<string, string>;
}

/** eventlake's own package.json (from dist/cli/ or, under vitest, cli/). */
export function packageInfo(): PackageJson {
  for (const url of [new URL('../../package.json', import.meta.url), new URL('../package.json', import.meta.url)]) {
    try {
      const json = JSON.parse(readFileSync(url, 'utf8')) as PackageJson & { name?: string };
      if (json.name === 'eventlake') return json;
    } catch {
      // not this candidate
    }
  }
  throw new Error('cannot find eventlake\'s package.json');
}
