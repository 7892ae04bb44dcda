import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventlakeJson, tempDir, writeNdjson } from '../support/cli.js';
import { post, startServer, waitReady } from '../support/server.js';
import { loggedCommandIds } from '../support/lakeLog.js';

const CLIENTS = 6;
const PER_CLIENT = 60;
const CONFIG = { domains: ['superchargers', 'orders'], jobs: [{ name: 'superchargers', projection: 'superchargers', live: false }, { name: 'supercharger_status_history', projection: 'supercharger_status_history', live: false }] };

/** Each client owns its stations, so outcomes do not depend on how clients interleave. */
function clientCommands(client: number): object[] {
  const statuses = ['inuse', 'serviced', 'notinuse', 'inuse', 'decomissioned'];
  const commands: object[] = [];
  for (let i = 0; i < PER_CLIENT; i++) {
    const serial = `C${client}-S${i % 6}`;
    const received = new Date(Date.UTC(2026, 0, 1, 0, i, client)).toISOString();
    const command = i < 6
      ? { command_name: 'RegisterSupercharger', command: { supercharger_serial: serial, location_name: 'L', supercharger_type: 'V3', lat: 1, long: 2 } }
      : { command_name: 'ChangeSuperchargerStatus', command: { supercharger_serial: serial, status: statuses[Math.floor(i / 6) % statuses.length] } };
    commands.push({ command_id: `c${client}-${i}`, received, ...command });
  }
  return commands;
}

/** Posts a client's commands in small batches until done or the server dies; returns what was acknowledged. */
async function client(url: string, commands: object[], acknowledged: Set<string>): Promise<void> {
  for (let i = 0; i < commands.length; i += 3) {
    const batch = commands.slice(i, i + 3);
    let answer;
    try {
      answer = await post(`${url}/commands`, batch);
    } catch {
      return; // the server is gone: nothing in flight was acknowledged
    }
    if (answer.status >= 500) return;
    for (const outcome of answer.body.results ?? [answer.body]) acknowledged.add(outcome.commandId);
  }
}

describe('HTTP ingest killed under load', () => {
  it('keeps every acknowledged command exactly once, and a replay reaches an uninterrupted run', async () => {
    const dir = tempDir();
    const lake = path.join(dir, 'lake');
    const all = Array.from({ length: CLIENTS }, (_, c) => clientCommands(c));
    const acknowledged = new Set<string>();
    for (const delay of [300, 700]) {
      const server = await startServer({ lake, config: CONFIG });
      await waitReady(server);
      const load = Promise.all(all.map((commands) => client(server.url, commands, acknowledged)));
      await new Promise((r) => setTimeout(r, delay));
      server.child.kill('SIGKILL');
      await Promise.all([load, server.exited]);
      const ids = loggedCommandIds(lake);
      for (const id of acknowledged) expect(ids).toContain(id); // nothing acknowledged was lost
      expect(new Set(ids).size).toBe(ids.length); // nothing doubled
    }
    expect(acknowledged.size).toBeGreaterThan(0);
    // Clients retry everything (same ids) against a restarted server.
    const server = await startServer({ lake, config: CONFIG });
    await waitReady(server);
    await Promise.all(all.map((commands) => client(server.url, commands, acknowledged)));
    expect(await server.stop()).toBe(0);
    const ids = loggedCommandIds(lake);
    expect(new Set(ids).size).toBe(CLIENTS * PER_CLIENT);
    expect(ids.length).toBe(CLIENTS * PER_CLIENT);
    // The same commands in one uninterrupted file ingest give the same read models.
    const clean = path.join(dir, 'clean');
    const configFile = path.join(dir, 'jobs.config.json');
    await eventlakeJson(['--config', configFile, '--lake', clean, 'ingest', writeNdjson(path.join(dir, 'all.ndjson'), all.flat())]);
    for (const l of [lake, clean]) await eventlakeJson(['--config', configFile, '--lake', l, 'run']);
    for (const sql of ['SELECT * FROM superchargers ORDER BY ALL', 'SELECT * FROM supercharger_status_history ORDER BY ALL']) {
      expect(await eventlakeJson(['--config', configFile, '--lake', lake, 'query', sql])).toEqual(await eventlakeJson(['--config', configFile, '--lake', clean, 'query', sql]));
    }
  });
});
