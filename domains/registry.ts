import { BUILT_IN_REJECTION_CODES } from '../ingest/envelope.js';
import type { Projection } from '../projections/projection.js';
import type { Aggregate, CommandHandler, Domain } from './domain.js';

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
  /** Every rejection code a command may get: the built-in ones, then those the domains declare. */
  rejectionCodes: string[];
  /** The config entries it was loaded from (by `loadDomains`), so a decider thread can load the same. */
  loadedFrom?: { names: string[]; configDir: string };
}

/** The registry of these domains (loading them from the config: domains/loadDomains.ts). */
export function registryOf(domains: Domain[]): DomainRegistry {
  const commands = new Map(domains.flatMap((d) => d.commands.map((c) => [c.commandName, c] as const)));
  const aggregates = new Map(domains.flatMap((d) => d.aggregates.map((a) => [a.aggregateType, a] as const)));
  const projections = new Map(domains.flatMap((d) => d.projections.map((p) => [p.name, p] as const)));
  const upcasters = new Map(domains.flatMap((d) => d.upcasters ?? []).map((u) => [`${u.eventType}@${u.fromVersion}`, u] as const));
  const versions = new Map<string, number>();
  for (const u of upcasters.values()) versions.set(u.eventType, Math.max(versions.get(u.eventType) ?? 1, u.fromVersion + 1));
  const schemaVersion = (eventType: string) => versions.get(eventType) ?? 1;
  const rejectionCodes = [...new Set([...BUILT_IN_REJECTION_CODES, ...domains.flatMap((d) => d.rejectionCodes ?? [])])];
  return {
    domains,
    rejectionCodes,
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
