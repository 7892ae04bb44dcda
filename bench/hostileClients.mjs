#!/usr/bin/env node
// 100 clients each declare a 7 MB POST /commands, send all of it but the last byte and hold the
// connection, against a running `eventlake serve`; prints the server's RSS before and at its
// peak (Linux /proc) and when the last connection was closed (null: still open after 90 s).
//   node bench/hostileClients.mjs PORT SERVER_PID [TOKEN]
// With TOKEN the clients authenticate (the body budget and request timeout bound them); without,
// they are refused on their headers.
import fs from 'node:fs';
import net from 'node:net';

const [port, pid, token] = process.argv.slice(2);
if (!pid) {
  console.error('usage: node bench/hostileClients.mjs PORT SERVER_PID [TOKEN]');
  process.exit(2);
}
const CLIENTS = 100;
const BODY = 7 * 1024 * 1024;
const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
const before = rssMb();
let peak = before;
const sampler = setInterval(() => (peak = Math.max(peak, rssMb())), 100);
const body = Buffer.alloc(BODY - 1, 0x20);
const started = Date.now();
const closed = [];
for (let i = 0; i < CLIENTS; i++) {
  const socket = net.connect(Number(port), '127.0.0.1');
  socket.on('error', () => undefined);
  socket.write(`POST /commands HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${BODY}\r\n${token ? `Authorization: Bearer ${token}\r\n` : ''}\r\n`);
  let answered = false;
  socket.once('data', () => (answered = true));
  // A refusal comes on the headers: let it arrive before the body would meet a closed connection.
  setTimeout(() => !answered && !socket.destroyed && socket.write(body), 100);
  closed.push(new Promise((resolve) => socket.once('close', () => resolve(Date.now() - started))));
}
const times = await Promise.race([Promise.all(closed), new Promise((resolve) => setTimeout(() => resolve(null), 90_000))]);
clearInterval(sampler);
console.log(JSON.stringify({ clients: CLIENTS, rssBeforeMB: Math.round(before), rssPeakMB: Math.round(peak), allClosedAfterMs: times && Math.max(...times) }));
process.exit(0);
