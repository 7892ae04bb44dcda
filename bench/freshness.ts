import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { percentile } from './stats.js';
import { notMeasured, type BenchResult } from './report.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/eventlake.js');

export interface FreshnessOptions {
  lake: string;
  config: string;
  /** Commands to send, one at a time. */
  commands: number;
  /** Stop sending after this long (the figure then reports what it has). */
  maxSeconds: number;
}

export interface FreshnessSamples {
  /** POST /commands round trip: the command is durable when it returns. */
  ackMs: number[];
  /** From POST /commands returning to the new row answering in POST /query. */
  visibleMs: number[];
}

/**
 * Figure 4: `eventlake serve` on the bench lake, as an operator starts it. Each command registers
 * a new supercharger; the clock runs from the POST returning (durable) until a POST /query on the
 * `superchargers` view sees the row (polled every 5 ms). Commands go one at a time, each after
 * the previous one became visible, so every sample is a whole commit -> live run -> views trip.
 */
export async function measureFreshness(options: FreshnessOptions): Promise<{ results: BenchResult[]; samples: FreshnessSamples | null }> {
  let server: Server | null = null;
  try {
    server = await startServer(options.lake, options.config);
    await waitUntil(async () => (await query(server!.url, 'SELECT count(*) AS n FROM superchargers')).ok, 'the views to be built', 300_000);
    const samples: FreshnessSamples = { ackMs: [], visibleMs: [] };
    const deadline = Date.now() + options.maxSeconds * 1000;
    const run = Date.now().toString(36);
    for (let i = 0; i < options.commands && Date.now() < deadline; i++) {
      const serial = `FRESH-${run}-${i}`;
      const command = {
        command_id: `fresh-${run}-${i}`,
        command_name: 'RegisterSupercharger',
        received: new Date().toISOString(),
        command: { supercharger_serial: serial, location_name: 'Bench', supercharger_type: 'V4', lat: 50, long: 10 },
      };
      const sent = performance.now();
      const response = await fetch(`${server.url}/commands`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(command) });
      const body = await response.text();
      const acked = performance.now();
      if (response.status !== 202) throw new Error(`POST /commands answered ${response.status}: ${body}`);
      const sql = `SELECT count(*) AS n FROM superchargers WHERE supercharger_serial = '${serial}'`;
      await waitUntil(async () => {
        const answer = await query(server!.url, sql);
        return answer.ok && Number(answer.rows[0]?.n) === 1;
      }, `${serial} to show in the superchargers view`, 120_000);
      samples.ackMs.push(acked - sent);
      samples.visibleMs.push(performance.now() - acked);
    }
    return { samples, results: figures(samples) };
  } catch (error) {
    const reason = `serve did not work: ${(error as Error).message.split('\n')[0]}`;
    return { samples: null, results: [notMeasured('freshness p50', 'ms', reason), notMeasured('freshness p99', 'ms', reason)] };
  } finally {
    await server?.stop();
  }
}

function figures(samples: FreshnessSamples): BenchResult[] {
  return ([50, 99] as const).map((p) => {
    const value = percentile(samples.visibleMs, p);
    const ack = percentile(samples.ackMs, p);
    return {
      name: `freshness p${p}`,
      value,
      unit: 'ms',
      baseline: ack,
      baselineLabel: `POST /commands round trip p${p} (durable acknowledgement)`,
      ratio: value / ack,
      ratioMeaning: 'visible in a view / acknowledged (lower is better)',
      goal: null,
      met: null,
      note: `${samples.visibleMs.length} commands, one at a time, polling POST /query every 5 ms`,
    };
  });
}

interface Server {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function startServer(lake: string, config: string): Promise<Server> {
  const child = spawn(process.execPath, [BIN, '--lake', lake, '--config', config, 'serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL line within 120 s; stderr: ${stderr}`)), 120_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!stdout.includes('\n')) return;
      clearTimeout(timer);
      const match = /(https?:\/\/\S+)/.exec(stdout.split('\n')[0]);
      if (match) resolve(match[1]);
      else reject(new Error(`the first stdout line is not the URL: ${stdout.split('\n')[0]}`));
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`serve exited before listening; stderr: ${stderr.slice(-2000)}`));
    });
  });
  return {
    url,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function query(url: string, sql: string): Promise<{ ok: boolean; rows: Record<string, unknown>[] }> {
  const response = await fetch(`${url}/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sql }) });
  const body = (await response.json()) as { rows?: Record<string, unknown>[] };
  return { ok: response.ok, rows: body.rows ?? [] };
}

/**
 * Polls `probe` every 5 ms: the live runner shares the server's event loop with the queries, so
 * back-to-back polling would slow down the very thing it measures.
 */
async function waitUntil(probe: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
