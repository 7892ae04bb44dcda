import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { devAccountKey } from '../servers/azurite.js';
import { startDfsServer, type DfsServer } from '../servers/dfsServer.js';
import { start as startEventHubs, type EventHubsServer } from '../servers/eventHubsServer.js';
import { eventlake, eventlakeJson, tempDir, writeNdjson } from '../support/cli.js';
import { expectedFrom } from '../support/referenceModel.js';

/**
 * The whole pipeline on Azure's protocols: the lake on ADLS Gen2 (the DFS test server, through
 * the real SDK), the outbox into Event Hubs (the AMQP test server), all through the real CLI.
 */
describe('the pipeline with the lake on ADLS and the outbox to Event Hubs', () => {
  let dfs: DfsServer;
  let hub: EventHubsServer;
  let config: string;
  let stateDir: string;
  let lines: string[];
  const cli = (...args: string[]) => eventlake(['--config', config, ...args]);

  beforeAll(async () => {
    [dfs, hub] = await Promise.all([startDfsServer(), startEventHubs({ partitions: 4 })]);
    const dir = tempDir();
    stateDir = path.join(dir, 'state');
    config = path.join(dir, 'jobs.config.json');
    fs.writeFileSync(config, JSON.stringify({
      lake: { type: 'adls', accountUrl: dfs.url, filesystem: 'lake', directory: 'prod', accountKey: devAccountKey, createFilesystem: true },
      stateDir: './state',
      eventHubs: { connectionString: hub.connectionString },
    }));
    lines = [...sampleNdjson({ count: 600, seed: 71, invalidShare: 0.03 })];
    writeNdjson(path.join(dir, 'c.ndjson'), lines);
    const ingest = await cli('ingest', path.join(dir, 'c.ndjson'), '--json');
    expect(ingest.code, ingest.stderr).toBe(0);
  });

  afterAll(async () => {
    await Promise.all([dfs?.close(), hub?.close()]);
  });

  it('keeps the log and the Delta tables on the lake, and only machine state locally', async () => {
    const run = await cli('run');
    expect(run.code, run.stderr).toBe(0);
    const remote = dfs.requests.filter((r) => /PUT|PATCH/.test(r)).join('\n');
    expect(remote).toMatch(/\/lake\/prod\/log\/p\d\//);
    expect(remote).toMatch(/\/lake\/prod\/tables\/superchargers\/_delta_log\//);
    expect(fs.readdirSync(stateDir).sort()).toEqual(expect.arrayContaining(['locks', 'views.duckdb']));
    expect(fs.existsSync(path.join(stateDir, 'log'))).toBe(false);
    const table = await eventlakeJson<{ version: number; rows: number }>(['--config', config, 'table', 'superchargers']);
    expect(table.version).toBeGreaterThanOrEqual(0);
  });

  it('answers the views from the local cache of the committed files', async () => {
    const expected = expectedFrom(lines);
    const rows = await eventlakeJson<{ supercharger_serial: string; status: string }[]>(['--config', config, 'query', 'SELECT supercharger_serial, status FROM superchargers']);
    expect(new Map(rows.map((r) => [r.supercharger_serial, r.status]))).toEqual(new Map([...expected.superchargers].map(([k, v]) => [k, v.status])));
    const refused = await cli('query', "SELECT * FROM read_csv('/etc/passwd')");
    expect(refused.stderr).toMatch(/Permission Error/);
  });

  it('forwards every lake event to the hub once, with its lake position', async () => {
    const forwarded = await eventlakeJson<{ sent: number }>(['--config', config, 'forward']);
    const accepted = expectedFrom(lines).codes.filter((c) => c === 'accepted').length;
    expect(forwarded.sent).toBe(accepted);
    const received = ['0', '1', '2', '3'].flatMap((p) => hub.events(p));
    expect(received.length).toBe(accepted);
    const positions = new Set(received.map((e) => `${e.properties?.lakePartition}:${e.properties?.lakeSequence}`));
    expect(positions.size).toBe(accepted);
    const again = await eventlakeJson<{ sent: number }>(['--config', config, 'forward']);
    expect(again.sent).toBe(0);
  });
});
