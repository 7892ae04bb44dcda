import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { commandWorkflowDomain } from './commandWorkflow.js';
import type { Domain } from './domain.js';
import { domainConflict } from './domainConflicts.js';
import { ordersDomain } from './orders.js';
import { registryOf, type DomainRegistry } from './registry.js';
import { superchargersDomain } from './superchargers.js';
import type { StateProjection } from '../projections/projection.js';
import { stateKeyProblem } from '../projections/stateKeys.js';

/** The domains shipped with eventlake, by name. */
export const BUILT_IN_DOMAINS: Record<string, Domain> = {
  superchargers: superchargersDomain,
  orders: ordersDomain,
};

/** Module files loaded through tsx: a domain in TypeScript runs as it is, with no compile step. */
const TYPESCRIPT = /\.(c|m)?tsx?$/;

/**
 * Resolves config entries: a built-in name, or a path (relative to the config file) to a module
 * whose default export is a Domain (JavaScript, or TypeScript loaded by tsx). The command
 * workflow domain is always present.
 */
export async function loadDomains(names: string[], configDir: string): Promise<DomainRegistry> {
  const domains = [commandWorkflowDomain];
  for (const [index, name] of names.entries()) {
    try {
      domains.push(BUILT_IN_DOMAINS[name] ?? (await importDomain(name, configDir)));
    } catch (error) {
      throw new DomainLoadError(index, name, (error as Error).message);
    }
  }
  // The registry keeps one definition per name: a second one would silently replace the first.
  const conflict = domainConflict(domains);
  if (conflict) throw new DomainLoadError(conflict.index - 1, names[conflict.index - 1], conflict.message);
  const unkeyable = unkeyableProjection(domains);
  if (unkeyable) throw new DomainLoadError(unkeyable.index - 1, names[unkeyable.index - 1], unkeyable.message);
  return { ...registryOf(domains), loadedFrom: { names, configDir } };
}

/** A configured domain (the `index`th entry of the config's `domains`) that cannot be used, and why. */
export class DomainLoadError extends Error {
  constructor(
    readonly index: number,
    readonly specifier: string,
    readonly reason: string,
  ) {
    super(`domain "${specifier}": ${reason}`);
  }
}

/** The first state projection whose key column cannot key its rows (projections/stateKeys.ts), with its domain's index. */
function unkeyableProjection(domains: Domain[]): { index: number; message: string } | null {
  for (const [index, domain] of domains.entries()) {
    for (const projection of domain.projections) {
      const problem = projection.kind === 'state' ? stateKeyProblem(projection as StateProjection<unknown>) : null;
      if (problem) return { index, message: problem };
    }
  }
  return null;
}

async function importDomain(specifier: string, configDir: string): Promise<Domain> {
  if (!specifier.startsWith('.') && !path.isAbsolute(specifier)) {
    throw new Error(`unknown domain "${specifier}": built-in domains are ${Object.keys(BUILT_IN_DOMAINS).join(', ')}; a custom domain is a path to a module`);
  }
  const file = path.resolve(configDir, specifier);
  const url = pathToFileURL(file).href;
  let module: { default?: Domain };
  try {
    module = TYPESCRIPT.test(file) ? await importTypeScript(url) : await import(url);
  } catch (error) {
    throw new Error(`cannot load domain module ${specifier} (${file}): ${(error as Error).message}`, { cause: error });
  }
  const domain = module.default;
  if (!domain?.name || !Array.isArray(domain.commands) || !Array.isArray(domain.projections)) {
    throw new Error(`domain module ${specifier} has no default export of a Domain (name, aggregates, commands, projections): export default domainOf<Events>().define({...})`);
  }
  return withSqlFileFrom(domain, path.dirname(file));
}

async function importTypeScript(url: string): Promise<{ default?: Domain }> {
  const { tsImport } = await import('tsx/esm/api');
  return tsImport(url, import.meta.url) as Promise<{ default?: Domain }>;
}

/** A relative `sqlFile` of a domain module is relative to that module's folder. */
function withSqlFileFrom(domain: Domain, moduleDir: string): Domain {
  const { sqlFile } = domain;
  if (sqlFile === undefined) return domain;
  const file = sqlFile instanceof URL ? fileURLToPath(sqlFile) : path.resolve(moduleDir, sqlFile);
  return { ...domain, sqlFile: file };
}
