import { describe, expect, it } from 'vitest';
import { rawRequest, within } from '../support/rawClient.js';
import { get, logEvents, post, registerCharger, startServer, waitReady, type RunningServer } from '../support/server.js';

const CLIENTS = 8;
const SIGNAL_AFTER = 80;
const MAX_PER_CLIENT = 500;

/**
 * SIGTERM while clients are sending: the server stops taking requests, finishes the ones in
 * flight, commits, exits 0; on restart every command it acknowledged is in the lake.
 */
describe('eventlake serve: graceful shutdown', () => {
  it('loses no acknowledged command when stopped with SIGTERM under load', async () => {
    const first = await startServer();
    try {
      await sendUntilStopped(first);
    } finally {
      first.child.kill('SIGKILL'); // a no-op once it exited; a failed test must not leave it running
    }
    // Two servers, hundreds of commands, and the second server's first query starts a query
    // process: at a load average of 30 the whole took over the default 60 s.
  }, 180_000);

  // Issue 12, item 11: a client trickling its body kept a stopping server alive 35 s+.
  it('stops within the drain timeout while a client trickles a request body, cutting that request off', { timeout: 120_000 }, async () => {
    const server = await startServer({ args: ['--no-live'] });
    const trickle = rawRequest(server.url, ['POST /commands HTTP/1.1', 'Host: x', 'Content-Type: application/json', 'Content-Length: 100000']);
    const drip = setInterval(() => trickle.write(' '), 200); // the whole body would take 5.5 hours
    try {
      await waitReady(server);
      expect(trickle.write('[')).toBe(true);
      server.child.kill('SIGTERM');
      // The default drain timeout (10 s) is shorter than the default request timeout (30 s): the drain cuts it off.
      expect(await within(server.exited, 45_000, 'still running')).toBe(0);
      expect(await within(trickle.closed.then(() => 'closed'), 5_000, 'open')).toBe('closed');
      expect(server.output().stderr).toContain('eventlake: stopped');
      expect(server.output().stderr).toContain('cutting off requests still unfinished at the drain timeout');
      expect(logEvents(server.lake)).toEqual([]); // nothing of the cut-off request was decided
    } finally {
      clearInterval(drip);
      trickle.socket.destroy();
      server.child.kill('SIGKILL');
    }
  });
});

/** Load, SIGTERM mid-way, exit 0; then a second server on the same lake finds every acknowledged command. */
async function sendUntilStopped(first: RunningServer): Promise<void> {
  await waitReady(first);
  // An open event stream must not keep the server from stopping.
  const stream = await fetch(`${first.url}/events/stream`);
  expect(stream.status).toBe(200);

  const acknowledged: string[] = [];
  let signalled = false;
  let refusedAfterSignal = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      for (let i = 0; i < MAX_PER_CLIENT; i++) {
        const id = `stop-${client}-${i}`;
        try {
          const answer = await post(`${first.url}/commands`, registerCharger(`STOP-${client}-${i}`, id));
          if (answer.status === 202) acknowledged.push(id);
          else if (answer.status === 503) break;
          else throw new Error(`unexpected ${answer.status}: ${JSON.stringify(answer.body)}`);
        } catch (error) {
          if (!signalled) throw error;
          refusedAfterSignal += 1;
          break; // the server is going away: connection refused or closed
        }
        if (!signalled && acknowledged.length >= SIGNAL_AFTER) {
          signalled = true;
          first.child.kill('SIGTERM');
        }
      }
    }),
  );
  expect(signalled).toBe(true);
  expect(await first.exited).toBe(0);
  expect(first.output().stderr).toContain('eventlake: stopped');
  expect(acknowledged.length).toBeGreaterThanOrEqual(SIGNAL_AFTER);
  expect(refusedAfterSignal).toBeLessThanOrEqual(CLIENTS);
  await stream.body?.cancel().catch(() => undefined);

  const logged = new Set(logEvents(first.lake).map((e) => e.causationId));
  expect(acknowledged.filter((id) => !logged.has(id))).toEqual([]);

  const second = await startServer({ lake: first.lake });
  try {
    await waitReady(second);
    for (const id of acknowledged) {
      const record = await get(`${second.url}/commands/${id}`);
      expect(record.status, id).toBe(200);
      expect(record.body).toMatchObject({ commandId: id, status: 'completed' });
    }
    const again = await post(`${second.url}/commands`, registerCharger('STOP-0-0', acknowledged.find((id) => id.startsWith('stop-0-'))!));
    expect(again.body.status).toBe('duplicate');
    const { body } = await post(`${second.url}/query`, { sql: "SELECT count(*) AS n FROM superchargers WHERE supercharger_serial LIKE 'STOP-%'" });
    expect(body.rows[0].n).toBeGreaterThanOrEqual(acknowledged.length);
  } finally {
    expect(await second.stop('SIGINT')).toBe(0);
  }
}
