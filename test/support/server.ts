import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, tempDir } from './cli.js';
import { readLogEvents } from './lakeLog.js';

const BIN = path.join(REPO, 'bin', 'eventlake.js');

/** An `eventlake serve` process started as an operator would, on a free loopback port. */
export interface RunningServer {
  url: string;
  lake: string;
  child: ChildProcess;
  /** Everything the process wrote so far. */
  output(): { stdout: string; stderr: string };
  /** Sends `signal` and resolves with the exit code once the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface StartOptions {
  lake?: string;
  /** A jobs config (object) written beside the lake; default: every built-in projection as a live job. */
  config?: object;
  args?: string[];
  env?: Record<string, string>;
}

/** Starts `eventlake --lake LAKE --config CONFIG serve --port 0 ARGS` and waits for its URL line. */
export async function startServer(options: StartOptions = {}): Promise<RunningServer> {
  const lake = options.lake ?? path.join(tempDir('eventlake-serve-'), 'lake');
  const configFile = path.join(path.dirname(lake), 'jobs.config.json');
  if (options.config || !fs.existsSync(configFile)) fs.writeFileSync(configFile, JSON.stringify(options.config ?? { domains: ['superchargers', 'orders'] }));
  const child = spawn(process.execPath, [BIN, '--lake', lake, '--config', configFile, 'serve', '--port', '0', ...(options.args ?? [])], {
    cwd: REPO,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const fail = (error: Error) => {
      child.kill('SIGKILL'); // never leave a half-started server behind
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`no URL line within 30 s; stderr: ${stderr}`)), 30_000);
    const check = () => {
      const line = stdout.split('\n')[0];
      if (stdout.includes('\n')) {
        clearTimeout(timer);
        const match = /^listening on (http:\/\/\S+)$/.exec(line);
        if (match) resolve(match[1]);
        else fail(new Error(`first stdout line is not the URL: ${JSON.stringify(line)}`));
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before listening; stderr: ${stderr}`));
    });
  });
  return {
    url,
    lake,
    child,
    output: () => ({ stdout, stderr }),
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Polls `probe` until it returns a value other than undefined/false (a bounded wait, not a timing assertion). */
export async function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until /readyz answers 200: the ingester is open and the views are built. */
export function waitReady(server: RunningServer): Promise<true> {
  return waitFor(async () => (await fetch(`${server.url}/readyz`)).status === 200 || undefined, 'readiness');
}

/** Waits until `/status` shows every job with no lag (its table's checkpoint at the log's head). */
export function waitCaughtUp(server: RunningServer, timeoutMs?: number): Promise<true> {
  return waitFor(async () => (await get(`${server.url}/status`)).body.jobs.every((j: { lagEvents: number }) => j.lagEvents === 0) || undefined, 'zero lag', timeoutMs);
}

export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** POSTs JSON (or a raw string body) and parses the JSON answer. */
export async function post<T = any>(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
}

export async function get<T = any>(url: string, headers: Record<string, string> = {}): Promise<Answer<T>> {
  const response = await fetch(url, { headers });
  const text = await response.text();
  const json = response.headers.get('content-type')?.includes('json');
  return { status: response.status, body: (json ? JSON.parse(text) : text) as T, headers: response.headers };
}

let counter = 0;
const received = () => new Date(Date.parse('2026-03-01T00:00:00Z') + ++counter * 1000).toISOString();

export function registerCharger(serial: string, commandId?: string): object {
  return {
    ...(commandId ? { command_id: commandId } : {}),
    command_name: 'RegisterSupercharger',
    received: received(),
    command: { supercharger_serial: serial, location_name: `Site ${serial}`, supercharger_type: 'V4', lat: 59.9, long: 10.7 },
  };
}

export function changeStatus(serial: string, status: string, commandId?: string): object {
  return { ...(commandId ? { command_id: commandId } : {}), command_name: 'ChangeSuperchargerStatus', received: received(), command: { supercharger_serial: serial, status } };
}

/** Reads every event the lake log holds (all partitions), in log order per partition. */
export function logEvents(lake: string): { aggregateId: string; version: number; partition: number; sequence: number; causationId: string }[] {
  return readLogEvents(lake);
}
