#!/usr/bin/env node
// Latency of POST /query for a trivial statement against a running `eventlake serve`: what the
// query path itself costs (HTTP, queueing, hand-off to the query process, result conversion).
//   node bench/queryLatency.mjs http://127.0.0.1:8080 [runs=300] [sql="SELECT 1 AS one"]
// Sends the runs one after another (after 20 warm-up runs) and prints p50/p95/p99/max in ms.
const [url, runsArg = '300', sql = 'SELECT 1 AS one'] = process.argv.slice(2);
if (!url) {
  console.error('usage: node bench/queryLatency.mjs URL [runs] [sql]');
  process.exit(2);
}
const headers = { 'content-type': 'application/json' };
if (process.env.EVENTLAKE_API_TOKEN) headers.authorization = `Bearer ${process.env.EVENTLAKE_API_TOKEN.trim()}`;
async function once() {
  const started = performance.now();
  const response = await fetch(`${url}/query`, { method: 'POST', headers, body: JSON.stringify({ sql }) });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${response.status}: ${text}`);
  return performance.now() - started;
}
for (let i = 0; i < 20; i++) await once();
const times = [];
for (let i = 0; i < Number(runsArg); i++) times.push(await once());
times.sort((a, b) => a - b);
const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(2);
console.log(JSON.stringify({ runs: times.length, sql, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: times.at(-1).toFixed(2) }));
