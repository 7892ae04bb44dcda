import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeStatus, get, logEvents, post, registerCharger, startServer, waitFor, waitReady, type RunningServer } from '../support/server.js';

const CLIENTS = 20;
const CHANGES_PER_CLIENT = 25;
const CHARGERS = ['RACE-A', 'RACE-B', 'RACE-C'];
const STATUSES = ['inuse', 'notinuse', 'serviced'];

/**
 * Many clients at once on the same few aggregates: every accepted change gets the next version of
 * its aggregate, the log holds versions 1..n per aggregate without gaps or repeats, and the read
 * model ends at the same version.
 */
describe('eventlake serve: concurrent clients', () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer();
    await waitReady(server);
    expect((await post(`${server.url}/commands`, CHARGERS.map((serial) => registerCharger(serial)))).status).toBe(202);
  });
  afterAll(async () => {
    if (server) expect(await server.stop()).toBe(0);
  });

  it(`keeps versions gap-free with ${CLIENTS} clients x ${CHANGES_PER_CLIENT} status changes`, async () => {
    const acknowledged: { aggregateId: string; version: number; commandId: string }[] = [];
    const outcomes: string[] = [];
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, client) => {
        for (let i = 0; i < CHANGES_PER_CLIENT; i++) {
          const serial = CHARGERS[(client + i) % CHARGERS.length];
          const status = STATUSES[(client * 7 + i * 3) % STATUSES.length];
          const answer = await post(`${server.url}/commands`, changeStatus(serial, status, `race-${client}-${i}`));
          expect([202, 422]).toContain(answer.status);
          outcomes.push(answer.body.code ?? answer.body.status);
          for (const event of answer.body.events ?? []) acknowledged.push({ aggregateId: event.aggregateId, version: event.version, commandId: answer.body.commandId });
        }
      }),
    );
    expect(outcomes).toHaveLength(CLIENTS * CHANGES_PER_CLIENT);
    // Racing clients sometimes ask for the status another one just set: that is a no_change, nothing else.
    expect(outcomes.filter((o) => o !== 'accepted' && o !== 'no_change')).toEqual([]);
    expect(acknowledged.length).toBeGreaterThan(0); // how many depends on the interleaving

    const log = logEvents(server.lake);
    for (const serial of CHARGERS) {
      const versions = log.filter((e) => e.aggregateId === serial).map((e) => e.version);
      // In log order (one partition per aggregate), versions run 1, 2, 3, ... with no gap or repeat.
      expect(versions, serial).toEqual(Array.from({ length: versions.length }, (_, i) => i + 1));
      const answered = acknowledged.filter((a) => a.aggregateId === serial).map((a) => a.version).sort((a, b) => a - b);
      expect(answered, serial).toEqual(versions.slice(1)); // version 1 is the registration
    }
    const byCommand = new Map(log.map((e) => [e.causationId, e]));
    for (const ack of acknowledged) expect(byCommand.get(ack.commandId)).toMatchObject({ aggregateId: ack.aggregateId, version: ack.version });

    // The live read model catches up to the same versions.
    await waitFor(async () => {
      const { body } = await post(`${server.url}/query`, { sql: 'SELECT supercharger_serial AS serial, version FROM superchargers ORDER BY serial' });
      const expected = CHARGERS.map((serial) => ({ serial, version: log.filter((e) => e.aggregateId === serial).length }));
      return JSON.stringify(body.rows) === JSON.stringify(expected) || undefined;
    }, 'the superchargers view to reach the log versions');
    expect((await get(`${server.url}/status`)).body.ingest.accepted).toBe(CHARGERS.length + acknowledged.length);
  });
});
