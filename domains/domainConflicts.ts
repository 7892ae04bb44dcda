import type { Domain } from './domain.js';

/**
 * Two domains defining the same command, aggregate type, projection or upcaster: the registry
 * keeps one per name, so the later silently replaced the earlier (a custom module's
 * `RegisterSupercharger` took over the built-in one). Returns the first clash, with the index of
 * the domain that repeats a name, or null.
 */
export function domainConflict(domains: Domain[]): { index: number; message: string } | null {
  const owners = new Map<string, string>();
  // Each name may be defined once, even by one domain twice (or one domain listed twice).
  for (const [index, domain] of domains.entries()) {
    const names = [
      ...domain.commands.map((c) => `command ${c.commandName}`),
      ...domain.aggregates.map((a) => `aggregate type ${a.aggregateType}`),
      ...domain.projections.map((p) => `projection ${p.name}`),
      ...(domain.upcasters ?? []).map((u) => `upcaster of ${u.eventType} from schema version ${u.fromVersion}`),
    ];
    for (const name of names) {
      const owner = owners.get(name);
      if (owner !== undefined) return { index, message: `defines ${name}, which domain ${owner} already defines: each may be defined once` };
      owners.set(name, domain.name);
    }
  }
  return null;
}
