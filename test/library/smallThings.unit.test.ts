import { describe, expect, it } from 'vitest';
import { domainOf, type Event } from '../../api/index.js';
import { commandWorkflowDomain } from '../../domains/commandWorkflow.js';
import { registryOf } from '../../domains/registry.js';
import { superchargersDomain } from '../../domains/superchargers.js';
import { IngestActivity } from '../../service/ingestActivity.js';
import { ServiceMetrics } from '../../service/metrics.js';
import { isoTimestamp, withIsoTimestamps } from '../../views/isoTimestamps.js';

describe('--json timestamps', () => {
  it('DuckDB timestamp text becomes ISO-8601 UTC with Z, milliseconds shown, finer digits kept', () => {
    expect(isoTimestamp('2026-01-01 08:00:00')).toBe('2026-01-01T08:00:00.000Z');
    expect(isoTimestamp('2026-01-01 08:00:00.5')).toBe('2026-01-01T08:00:00.500Z');
    expect(isoTimestamp('2026-01-01 08:00:00.123456+00')).toBe('2026-01-01T08:00:00.123456Z');
    expect(isoTimestamp('2026-01-01 08:00:00+02')).toBe('2026-01-01T06:00:00.000Z');
    expect(isoTimestamp('2026-01-01')).toBe('2026-01-01');
    expect(isoTimestamp(null)).toBe(null);
  });
  it('only timestamp columns are touched', () => {
    const columns = [{ name: 't', type: 'TIMESTAMP' }, { name: 'z', type: 'TIMESTAMP WITH TIME ZONE' }, { name: 's', type: 'VARCHAR' }];
    expect(withIsoTimestamps(columns, [{ t: '2026-01-01 08:00:00', z: '2026-01-01 08:00:00+00', s: '2026-01-01 08:00:00' }])).toEqual([
      { t: '2026-01-01T08:00:00.000Z', z: '2026-01-01T08:00:00.000Z', s: '2026-01-01 08:00:00' },
    ]);
  });
});

describe('rejection codes open to a domain', () => {
  type E = Event<'Opened', { id: string }>;
  const d = domainOf<E>();
  const account = d.aggregate({ aggregateType: 'account', rejections: ['insufficient_funds'], evolve: () => ({}) });
  const domain = d.define({ name: 'bank', aggregates: [account], commands: [], projections: [] });

  it('are declared by aggregates and listed by the registry after the built-in ones', () => {
    expect(domain.rejectionCodes).toEqual(['insufficient_funds']);
    expect(registryOf([commandWorkflowDomain, superchargersDomain, domain]).rejectionCodes).toEqual(['schema', 'unknown_command', 'duplicate_aggregate', 'not_found', 'invalid_transition', 'no_change', 'insufficient_funds']);
  });

  it('are series of /metrics and counters of /status from the start', async () => {
    const codes = registryOf([domain]).rejectionCodes;
    const metrics = new ServiceMetrics(['accounts'], codes);
    expect(await metrics.text()).toContain('eventlake_commands_rejected_total{code="insufficient_funds"} 0');
    expect(new IngestActivity(metrics, codes).counters.rejectedByCode).toMatchObject({ insufficient_funds: 0, schema: 0 });
  });
});
