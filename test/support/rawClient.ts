import fs from 'node:fs';
import net from 'node:net';

/** A client on a raw socket, for what fetch cannot do: send part of a request and hold the rest. */
export interface RawClient {
  socket: net.Socket;
  /** Everything the server sent so far. */
  received(): string;
  /** Resolves once the server's answer has begun (first bytes), or the connection ended without one. */
  answered: Promise<string>;
  /** Resolves once the connection is closed (by either side). */
  closed: Promise<void>;
  /** Writes `bytes` if the connection is still open; false once it is not. */
  write(bytes: string | Buffer): boolean;
}

/** Opens a connection to `url`'s host and port and sends `head` (a request line and headers, without the blank line). */
export function rawRequest(url: string, head: string[], body?: string | Buffer): RawClient {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  socket.on('error', () => undefined); // a reset is one of the outcomes under test
  let text = '';
  const answered = new Promise<string>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      resolve(text);
    });
    socket.once('close', () => resolve(text));
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const write = (bytes: string | Buffer) => {
    if (socket.destroyed || !socket.writable) return false;
    socket.write(bytes);
    return true;
  };
  write(`${head.join('\r\n')}\r\n\r\n`);
  if (body !== undefined) write(body);
  return { socket, received: () => text, answered, closed, write };
}

/** The status code of an HTTP answer's first line, or null when there was none. */
export function statusOf(answer: string): number | null {
  const match = /^HTTP\/1\.1 (\d{3})/.exec(answer);
  return match ? Number(match[1]) : null;
}

/** Races `promise` against a bounded wait: the value, or `fallback` once `ms` passed. */
export function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  return Promise.race([promise, new Promise<F>((resolve) => setTimeout(() => resolve(fallback), ms).unref())]);
}

/** Resident memory of a process (Linux /proc), in bytes. */
export function residentBytes(pid: number): number {
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!kib) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kib[1]) * 1024;
}
