/**
 * After a failed commit the service's log writer comes back by itself: while it recovers,
 * POST /commands answers 503 with Retry-After and /readyz is not ready; afterwards commands are
 * accepted again, with nothing acknowledged lost and nothing unacknowledged kept; /healthz fails
 * once it has been down longer than --unhealthy-after. Against ADLS throttling (the fault proxy
 * answering 503 ServerBusy / 500 OperationTimedOut beyond the real SDK's retries) and a local
 * disk failure (an injected ENOSPC; the real full disk is in test/hardening/diskFull.int.test.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { DataLakeServiceClient, StorageSharedKeyCredential } from '@azure/storage-file-datalake';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { armFailpoint } from '../../lake/failpoints.js';
import { LakeLayout } from '../../lake/layout.js';
import { AdlsStorage } from '../../lake/storage/adlsStorage.js';
import { registerStorage } from '../../lake/storage/locations.js';
import { loadConfig } from '../../projections/jobsConfig.js';
import { createService, type Service } from '../../service/server.js';
import { SERVICE_DEFAULTS } from '../../service/serviceConfig.js';
import { devAccountKey, devAccountName } from '../servers/azurite.js';
import { startDfsServer, type DfsServer } from '../servers/dfsServer.js';
import { startFaultProxy, type Fault, type FaultProxy } from '../servers/faultProxy.js';
import { tempDir } from '../support/cli.js';
import { loggedCommandIds } from '../support/lakeLog.js';
import { remoteLog } from '../support/remoteLakeLog.js';
import { get, post, registerCharger, waitFor } from '../support/server.js';

let dfs: DfsServer;
let proxy: FaultProxy;
let lakes = 0;
const running: Service[] = [];

beforeAll(async () => {
  dfs = await startDfsServer();
  proxy = await startFaultProxy(dfs.port);
});
afterEach(async () => {
  proxy.heal();
  armFailpoint('log.append', null);
  await Promise.all(running.splice(0).map((s) => s.close().catch(() => undefined)));
});
afterAll(async () => {
  await proxy?.close();
  await dfs?.close();
});

/** `eventlake serve` in this process over a lake configured as users do (a config file), no jobs. */
async function serve(lake: object | string, unhealthyAfterMs = 60_000, beforeOpen?: (lakeDir: string) => void): Promise<{ url: string; layout: LakeLayout }> {
  const dir = tempDir('eventlake-recovery-');
  const configFile = path.join(dir, 'jobs.config.json');
  fs.writeFileSync(configFile, JSON.stringify({ lake, stateDir: path.join(dir, 'state'), domains: ['superchargers'], jobs: [] }));
  const config = await loadConfig({ config: configFile });
  beforeOpen?.(config.lakeDir);
  const layout = new LakeLayout(config.lakeDir, config.stateDir ?? undefined);
  const service = await createService(config, layout, { ...SERVICE_DEFAULTS, port: 0, live: false, scheduler: false, unhealthyAfterMs });
  running.push(service);
  return { url: await service.listen(), layout };
}

/** A lake on the DFS test server reached through the fault proxy. */
async function serveOnAdls(unhealthyAfterMs?: number) {
  const directory = `recovery-${++lakes}`;
  const accountUrl = proxy.via(dfs.url);
  // The SDK's own retry policy (4 tries for a 500 or 503), at millisecond delays instead of 0 + 4 + 12 s.
  const service = new DataLakeServiceClient(accountUrl, new StorageSharedKeyCredential(devAccountName, devAccountKey), { retryOptions: { retryDelayInMs: 1, maxRetryDelayInMs: 5 } });
  const fastRetries = new AdlsStorage({ service, filesystem: 'lake', directory, cacheDir: path.join(tempDir(), 'cache') });
  const lake = { type: 'adls', accountUrl, filesystem: 'lake', directory, accountKey: devAccountKey, createFilesystem: true };
  const served = await serve(lake, unhealthyAfterMs, (lakeDir) => registerStorage(lakeDir, fastRetries));
  return { ...served, directory, log: remoteLog(dfs, 'lake', directory) };
}

const commands = (url: string) => `${url}/commands`;
const ready = async (url: string) => (await get(`${url}/readyz`)).status === 200 || undefined;

describe('the log writer recovers by itself after a failed commit', () => {
  it.each<Fault>(['busy', 'timeout'])('ADLS throttling (%s) at the commit point: 503 + Retry-After meanwhile, then accepted; the unacknowledged tail is trimmed', async (fault) => {
    const { url, directory, log } = await serveOnAdls();
    expect((await post(commands(url), registerCharger('T-1', 't-1'))).status).toBe(202);

    // The head is the commit point: its rename is throttled past the SDK's 4 tries, after the segments were appended.
    const throttle = proxy.inject({ fault, match: (r) => r.method === 'PUT' && r.url.includes(`/${directory}/log/HEAD?`) });
    const failed = await post(commands(url), registerCharger('T-2', 't-2'));
    expect(failed.status).toBe(503);
    expect(failed.body.error.code).toBe('log_unavailable');
    expect(Number(failed.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(throttle.hits).toBe(4); // the SDK retried, then gave up
    expect(log.head()!.streams.commands.sequence).toBe(1);

    const refused = await post(commands(url), registerCharger('T-3', 't-3'));
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const readyz = await get(`${url}/readyz`);
    expect(readyz.status).toBe(503);
    expect(readyz.body).toMatchObject({ checks: { ingester: false }, writer: { state: 'recovering' } });
    expect((await get(`${url}/healthz`)).status).toBe(200); // down for moments: not a reason to restart

    throttle.remove();
    await waitFor(() => ready(url), 'the writer to recover');
    const retried = await post(commands(url), [registerCharger('T-2', 't-2'), registerCharger('T-3', 't-3')]);
    expect(retried.status).toBe(202); // t-2 was never acknowledged, so it is new, not a duplicate
    expect((await post(commands(url), registerCharger('T-1', 't-1'))).body.status).toBe('duplicate');

    expect(log.records<{ commandId: string }>('commands').map((r) => r.commandId)).toEqual(['t-1', 't-2', 't-3']);
    expect(log.lastSegmentBytes('commands')).toBe(log.head()!.streams.commands.offset);
  });

  it('ADLS unavailable for longer than --unhealthy-after: /healthz fails until it recovers', async () => {
    const { url, directory, log } = await serveOnAdls(300);
    const outage = proxy.inject({ fault: 'busy', match: (r) => r.url.includes(`/${directory}/`) });
    expect((await post(commands(url), registerCharger('U-1', 'u-1'))).status).toBe(503);
    const unhealthy = await waitFor(async () => {
      const answer = await get(`${url}/healthz`);
      return answer.status === 503 && answer.body.writer.attempts >= 1 ? answer.body : undefined;
    }, '/healthz to fail after a failed attempt to recover');
    expect(unhealthy).toMatchObject({ status: 'unhealthy', writer: { state: 'recovering', unhealthy: true } });
    expect(unhealthy.writer.lastError, JSON.stringify(unhealthy)).toMatch(/503 ServerBusy/);

    outage.remove();
    await waitFor(() => ready(url), 'the writer to recover');
    expect((await get(`${url}/healthz`)).body).toEqual({ status: 'ok' });
    expect((await post(commands(url), registerCharger('U-1', 'u-1'))).status).toBe(202);
    expect(log.records<{ commandId: string }>('commands').map((r) => r.commandId)).toEqual(['u-1']);
  });

  it('a local write failure (ENOSPC): later commands are not refused with the stale error once it passes', async () => {
    const lake = path.join(tempDir(), 'lake');
    const { url } = await serve(lake);
    expect((await post(commands(url), registerCharger('L-1', 'l-1'))).status).toBe(202);
    armFailpoint('log.append', 'ENOSPC');
    const failed = await post(commands(url), registerCharger('L-2', 'l-2'));
    expect(failed.status).toBe(503);
    expect(failed.body.error.message).toMatch(/ENOSPC/);
    expect(Number(failed.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    armFailpoint('log.append', null);
    await waitFor(() => ready(url), 'the writer to recover');
    expect((await post(commands(url), registerCharger('L-2', 'l-2'))).status).toBe(202);
    expect((await post(commands(url), registerCharger('L-3', 'l-3'))).status).toBe(202);
    expect(loggedCommandIds(lake)).toEqual(['l-1', 'l-2', 'l-3']);
  });
});
