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

/** The background load of the second measurement: another client's commands per second. */
const LOAD_RATE = 10_000;
/** Commands per POST of the load client, and POSTs it keeps in flight at most. */
const LOAD_BATCH = 100;
const LOAD_IN_FLIGHT = 8;

/**
 * Figure 4: `eventlake serve` on the bench lake, as an operator starts it. Each command registers
 * a new supercharger; the clock runs from the POST returning (durable) until a POST /query on the
 * `superchargers` view answers with the row: the query names the command's events (`after`) and
 * is answered once the read model shows them, as a client reading its own write does (polling
 * instead, every 5 ms, cost up to a query and a pause more, and loaded the service it measured
 * with queries that found nothing). Commands go one at a time, each after
 * the previous one became visible, so every sample is a whole commit -> live run -> query trip.
 * Measured twice: on a quiet service, then while another client ingests LOAD_RATE commands/s.
 */
export async function measureFreshness(options: FreshnessOptions): Promise<{ results: BenchResult[]; samples: FreshnessSamples | null }> {
  let server: Server | null = null;
  const run = Date.now().toString(36);
  try {
    server = await startServer(options.lake, options.config);
    await waitUntil(async () => (await query(server!.url, 'SELECT count(*) AS n FROM superchargers')).ok, 'the views to be built', 300_000);
    const half = options.maxSeconds / 2;
    const quiet = await sample(server.url, `${run}-q`, options.commands, half);
    const load = new LoadClient(server.url, `${run}-l`);
    let loaded: FreshnessSamples;
    try {
      loaded = await sample(server.url, `${run}-l`, options.commands, half);
    } finally {
      await load.stop();
    }
    const loadNote = `while another client ingested ${Math.round(load.rate())} commands/s (aimed at ${LOAD_RATE}; ${load.failures} POSTs failed)`;
    return { samples: quiet, results: [...figures(quiet, ''), ...figures(loaded, ' under load', loadNote)] };
  } catch (error) {
    const reason = `serve did not work: ${(error as Error).message.split('\n')[0]}`;
    return { samples: null, results: ['freshness p50', 'freshness p99', 'freshness p50 under load', 'freshness p99 under load'].map((name) => notMeasured(name, 'ms', reason)) };
  } finally {
    await server?.stop();
  }
}

/** Sends `commands` registrations one at a time (at most `maxSeconds`), each timed until a query shows it. */
async function sample(url: string, run: string, commands: number, maxSeconds: number): Promise<FreshnessSamples> {
  const samples: FreshnessSamples = { ackMs: [], visibleMs: [] };
  const deadline = Date.now() + maxSeconds * 1000;
  for (let i = 0; i < commands && Date.now() < deadline; i++) {
    const serial = `FRESH-${run}-${i}`;
    const sent = performance.now();
    const response = await fetch(`${url}/commands`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(registration(serial, `fresh-${run}-${i}`)) });
    const body = await response.text();
    const acked = performance.now();
    if (response.status !== 202) throw new Error(`POST /commands answered ${response.status}: ${body}`);
    const sql = `SELECT count(*) AS n FROM superchargers WHERE supercharger_serial = '${serial}'`;
    // As a client reading its own write does: one query that waits for the command's events to be
    // shown (`after`); polled further only should that answer lack the row (it never should).
    const { events } = JSON.parse(body) as { events: { partition: number; sequence: number }[] };
    const waited = await query(url, sql, { after: events, readModels: ['superchargers'] });
    if (!(waited.ok && Number(waited.rows[0]?.n) === 1)) {
      await waitUntil(async () => {
        const answer = await query(url, sql);
        return answer.ok && Number(answer.rows[0]?.n) === 1;
      }, `${serial} to show in the superchargers view`, 120_000);
    }
    samples.ackMs.push(acked - sent);
    samples.visibleMs.push(performance.now() - acked);
  }
  return samples;
}

function registration(serial: string, commandId: string): object {
  return {
    command_id: commandId,
    command_name: 'RegisterSupercharger',
    received: new Date().toISOString(),
    command: { supercharger_serial: serial, location_name: 'Bench', supercharger_type: 'V4', lat: 50, long: 10 },
  };
}

/**
 * Another client: registrations in batches of LOAD_BATCH, paced to LOAD_RATE commands/s from its
 * start (catching up after a slow answer), at most LOAD_IN_FLIGHT requests at once.
 */
class LoadClient {
  private readonly started = performance.now();
  private sent = 0;
  private accepted = 0;
  private inFlight = 0;
  private stopped = false;
  failures = 0;
  private readonly loop: Promise<void>;

  constructor(
    private readonly url: string,
    private readonly run: string,
  ) {
    this.loop = this.pace();
  }

  rate(): number {
    return this.accepted / ((performance.now() - this.started) / 1000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    while (this.inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  private async pace(): Promise<void> {
    while (!this.stopped) {
      const due = ((performance.now() - this.started) / 1000) * LOAD_RATE;
      while (this.sent < due && this.inFlight < LOAD_IN_FLIGHT) void this.post();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  private async post(): Promise<void> {
    const first = this.sent;
    this.sent += LOAD_BATCH;
    this.inFlight += 1;
    const batch = Array.from({ length: LOAD_BATCH }, (_, i) => registration(`LOAD-${this.run}-${first + i}`, `load-${this.run}-${first + i}`));
    try {
      const response = await fetch(`${this.url}/commands`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch) });
      const body = (await response.json()) as { accepted?: number };
      if (response.status === 202) this.accepted += body.accepted ?? LOAD_BATCH;
      else this.failures += 1;
    } catch {
      this.failures += 1;
    } finally {
      this.inFlight -= 1;
    }
  }
}

/** The issue's goals: p50 within 10x the acknowledgement and 100 ms; p99 within 500 ms. */
function figures(samples: FreshnessSamples, suffix: string, loadNote?: string): BenchResult[] {
  return ([50, 99] as const).map((p) => {
    const value = percentile(samples.visibleMs, p);
    const ack = percentile(samples.ackMs, p);
    const met = p === 50 ? value <= 10 * ack && value <= 100 : value <= 500;
    return {
      name: `freshness p${p}${suffix}`,
      value,
      unit: 'ms',
      baseline: ack,
      baselineLabel: `POST /commands round trip p${p} (durable acknowledgement)${suffix}`,
      ratio: value / ack,
      ratioMeaning: 'visible in a query / acknowledged (lower is better)',
      goal: p === 50 ? '<= 10x the ack p50 and <= 100 ms' : '<= 500 ms',
      met,
      note: `${samples.visibleMs.length} commands, one at a time, each read back by a POST /query waiting for its events (\`after\`)${loadNote ? `, ${loadNote}` : ''}`,
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

async function query(url: string, sql: string, wait: object = {}): Promise<{ ok: boolean; rows: Record<string, unknown>[] }> {
  const response = await fetch(`${url}/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sql, ...wait }) });
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
