import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Projection } from '../projections/projection.js';
import { commandWorkflowDomain } from './commandWorkflow.js';
import type { Aggregate, CommandHandler, Domain } from './domain.js';
import { domainConflict } from './domainConflicts.js';
import { ordersDomain } from './orders.js';
import { superchargersDomain } from './superchargers.js';

/** The domains shipped with eventlake, by name. */
export const BUILT_IN_DOMAINS: Record<string, Domain> = {
  superchargers: superchargersDomain,
  orders: ordersDomain,
};

/** Everything the pipeline needs to know about the configured domains, looked up by name. */
export interface DomainRegistry {
  domains: Domain[];
  command(name: string): CommandHandler | undefined;
  aggregate(type: string): Aggregate | undefined;
  projection(name: string): Projection | undefined;
  /** The schema version events of this type are written with now. */
  schemaVersion(eventType: string): number;
  /** A logged event in today's shape (unchanged when it already is); null when no upcaster is configured at all. */
  upcast: (<E extends { eventType: string; schemaVersion?: number; data: Record<string, unknown> }>(event: E) => E) | null;
}

/**
 * Resolves config entries: a built-in name, or a path (relative to the config file) to a module
 * whose default export is a Domain. The command workflow domain is always present.
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
  const conflict = domainConflict(domains);
  if (conflict) throw new DomainLoadError(conflict.index - 1, names[conflict.index - 1], conflict.message);
  return registryOf(domains);
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

async function importDomain(specifier: string, configDir: string): Promise<Domain> {
  if (!specifier.startsWith('.') && !path.isAbsolute(specifier)) {
    throw new Error(`unknown domain "${specifier}": built-in domains are ${Object.keys(BUILT_IN_DOMAINS).join(', ')}; a custom domain is a path to a module`);
  }
  const file = path.resolve(configDir, specifier);
  const module = (await import(pathToFileURL(file).href).catch((error: Error) => {
    throw new Error(`cannot load the module ${file}: ${error.message}`);
  })) as { default?: Domain };
  if (!module.default?.name) throw new Error(`domain module ${specifier} has no default export of a Domain`);
  return module.default;
}

export function registryOf(domains: Domain[]): DomainRegistry {
  const commands = new Map(domains.flatMap((d) => d.commands.map((c) => [c.commandName, c] as const)));
  const aggregates = new Map(domains.flatMap((d) => d.aggregates.map((a) => [a.aggregateType, a] as const)));
  const projections = new Map(domains.flatMap((d) => d.projections.map((p) => [p.name, p] as const)));
  const upcasters = new Map(domains.flatMap((d) => d.upcasters ?? []).map((u) => [`${u.eventType}@${u.fromVersion}`, u] as const));
  const versions = new Map<string, number>();
  for (const u of upcasters.values()) versions.set(u.eventType, Math.max(versions.get(u.eventType) ?? 1, u.fromVersion + 1));
  const schemaVersion = (eventType: string) => versions.get(eventType) ?? 1;
  return {
    domains,
    command: (name) => commands.get(name),
    aggregate: (type) => aggregates.get(type),
    projection: (name) => projections.get(name),
    schemaVersion,
    upcast:
      upcasters.size === 0
        ? null
        : (event) => {
            const current = schemaVersion(event.eventType);
            let version = event.schemaVersion ?? 1;
            if (version >= current) return event;
            let data = event.data;
            for (; version < current; version++) {
              const upcaster = upcasters.get(`${event.eventType}@${version}`);
              if (!upcaster) throw new Error(`no upcaster for ${event.eventType} from schema version ${version}`);
              data = upcaster.upcast(data);
            }
            return { ...event, data, schemaVersion: current };
          },
  };
}
