import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import { devAccountKey } from '../servers/azurite.js';
import { startDfsServer, type DfsServer } from '../servers/dfsServer.js';
import { start as startEventHubs, type EventHubsServer } from '../servers/eventHubsServer.js';
import { eventlake, eventlakeJson, REPO, tempDir, writeNdjson } from '../support/cli.js';
import { waitFor } from '../support/server.js';
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

  it('switches the jobs to the hub, then a live consumer projects what the forwarder sends, and the views follow', async () => {
    // The same lake and hub; the event jobs now read Event Hubs (the command log stays on the lake).
    const hubConfig = path.join(path.dirname(config), 'hub.config.json');
    const jobs = ['superchargers', 'supercharger_status_history', 'daily_status_changes', 'customers', 'orders', 'order_status_history']
      .map((name) => ({ name, projection: name, source: 'eventhubs' }));
    fs.writeFileSync(hubConfig, JSON.stringify({ ...JSON.parse(fs.readFileSync(config, 'utf8')), jobs: [...jobs, { name: 'command_status', projection: 'command_status' }] }));
    const hubCli = (...args: string[]) => eventlake(['--config', hubConfig, ...args]);
    const handOver = await hubCli('run');
    expect(handOver.code, handOver.stderr).toBe(0);

    const more = [...sampleNdjson({ count: 300, seed: 72 })].map((line) => line.replace(/"command_id":"/, '"command_id":"more-'));
    writeNdjson(path.join(path.dirname(config), 'more.ndjson'), more);
    expect((await hubCli('ingest', path.join(path.dirname(config), 'more.ndjson'))).code).toBe(0);
    const consumer = spawn(process.execPath, [path.join(REPO, 'bin', 'eventlake.js'), '--config', hubConfig, 'consume', '--json'], { cwd: REPO });
    let output = '';
    consumer.stdout.on('data', (chunk) => (output += chunk));
    consumer.stderr.on('data', (chunk) => (output += chunk));
    try {
      expect((await hubCli('forward')).code).toBe(0);
      const expected = new Map([...expectedFrom([...lines, ...more]).superchargers].map(([k, v]) => [k, v.status]));
      await waitFor(async () => {
        const rows = await eventlakeJson<{ supercharger_serial: string; status: string }[]>(['--config', hubConfig, 'query', 'SELECT supercharger_serial, status FROM superchargers']);
        return mapsEqual(new Map(rows.map((r) => [r.supercharger_serial, r.status])), expected);
      }, 'the live consumer to bring the views up to the reference', 60_000);
    } finally {
      consumer.kill('SIGTERM');
      await new Promise((resolve) => consumer.once('exit', resolve));
    }
    expect(consumer.exitCode, output).toBe(0);
    const totals = JSON.parse(output.trim().split('\n').at(-1)!) as { job: string; applied: number }[];
    expect(totals.find((t) => t.job === 'superchargers')!.applied).toBeGreaterThan(0);
  }, 120_000);
});

function mapsEqual<K, V>(a: Map<K, V>, b: Map<K, V>): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
}
