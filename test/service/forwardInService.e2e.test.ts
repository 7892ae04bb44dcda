/**
 * `eventlake serve --forward`: commands posted to the service reach Event Hubs (the test
 * server), each event once with its lake position, and the service stops cleanly.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { start, type EventHubsServer } from '../servers/eventHubsServer.js';
import { changeStatus, post, registerCharger, startServer, waitFor, type RunningServer } from '../support/server.js';

describe('serve --forward', () => {
  let hub: EventHubsServer | undefined;
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.stop();
    await hub?.close();
  });

  test('posted commands are forwarded to the hub while the service runs', async () => {
    hub = await start({ partitions: 2 });
    server = await startServer({
      config: { domains: ['superchargers', 'orders'], eventHubs: { connectionString: hub.connectionString } },
      args: ['--forward', '--no-live'],
    });
    const commands = [registerCharger('SC-F1', 'f-1'), registerCharger('SC-F2', 'f-2'), changeStatus('SC-F1', 'inuse', 'f-3')];
    const answer = await post(`${server.url}/commands`, commands);
    expect(answer.status).toBe(202);
    const inHub = () => ['0', '1'].flatMap((p) => hub!.events(p));
    await waitFor(() => inHub().length === 3 || undefined, 'the three events in the hub');
    const positions = inHub().map((e) => `${e.properties?.lakePartition}/${e.properties?.lakeSequence}`);
    expect(new Set(positions).size).toBe(3);
    expect(inHub().map((e) => (e.properties as { eventType: string }).eventType).sort()).toEqual(['SuperchargerRegistered', 'SuperchargerRegistered', 'SuperchargerStatusChanged']);
    expect(await server.stop()).toBe(0);
  });
});
