/**
 * Two machines on one lake in ADLS: the log writer, each projection job and the forwarder take
 * an ADLS lease in the lake (`locks/<name>.lease`) besides their machine-local lock, so a second
 * machine is refused while the first holds it, and takes over once the first released it, or died
 * and its lease ran out. "Machines" here are layouts with their own local state folders over the
 * same lake on the DFS test server (which serves leases as the service does, on a clock the test
 * can move on instead of waiting a minute).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataLakeServiceClient, StorageSharedKeyCredential, type DataLakeFileSystemClient } from '@azure/storage-file-datalake';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { commandWorkflowDomain } from '../../domains/commandWorkflow.js';
import { registryOf } from '../../domains/registry.js';
import { superchargersDomain } from '../../domains/superchargers.js';
import { Ingester } from '../../ingest/ingester.js';
import { LakeLayout } from '../../lake/layout.js';
import { acquireLock, LockHeldError } from '../../lake/lock.js';
import { AdlsStorage } from '../../lake/storage/adlsStorage.js';
import { registerStorage } from '../../lake/storage/locations.js';
import { loadConfig } from '../../projections/jobsConfig.js';
import { runJob } from '../../projections/jobRunner.js';
import { devAccountKey, devAccountName } from '../servers/azurite.js';
import { startDfsServer, type DfsServer } from '../servers/dfsServer.js';
import { startFaultProxy, type FaultProxy } from '../servers/faultProxy.js';
import { tempDir } from '../support/cli.js';
import { remoteLog } from '../support/remoteLakeLog.js';
import { registerCharger } from '../support/server.js';

const registry = registryOf([commandWorkflowDomain, superchargersDomain]);
let dfs: DfsServer;
let proxy: FaultProxy;
let filesystem: DataLakeFileSystemClient;
let lakes = 0;
const open: { close(): Promise<unknown> }[] = [];

beforeAll(async () => {
  dfs = await startDfsServer();
  proxy = await startFaultProxy(dfs.port);
  filesystem = new DataLakeServiceClient(dfs.url, new StorageSharedKeyCredential(devAccountName, devAccountKey)).getFileSystemClient('lake');
  await filesystem.create();
});
afterEach(async () => {
  proxy.heal();
  await Promise.all(open.splice(0).map((o) => o.close().catch(() => undefined)));
  dfs.store.clockOffsetMs = 0;
});
afterAll(async () => {
  await proxy?.close();
  await dfs?.close();
});

/** One lake folder, and a way to be a machine on it: its own local state, maybe reaching ADLS through the fault proxy. */
function sharedLake() {
  const directory = `leases-${++lakes}`;
  return {
    directory,
    machine(options: { viaProxy?: boolean } = {}): LakeLayout {
      const accountUrl = options.viaProxy ? proxy.via(dfs.url) : dfs.url;
      const service = new DataLakeServiceClient(accountUrl, new StorageSharedKeyCredential(devAccountName, devAccountKey), { retryOptions: { retryDelayInMs: 1, maxRetryDelayInMs: 5 } });
      const storage = new AdlsStorage({ service, filesystem: 'lake', directory, cacheDir: path.join(tempDir(), 'cache') });
      registerStorage(storage.location, storage);
      return new LakeLayout(storage.location, tempDir('eventlake-machine-'));
    },
    /** Takes the writer's lease as a process elsewhere would, recording itself as `holder`. */
    async leaseAs(holder: { pid: number; host: string }): Promise<string> {
      const file = filesystem.getFileClient(`${directory}/locks/log-writer.lease`);
      await file.createIfNotExists();
      const lease = file.getDataLakeLeaseClient();
      await lease.acquireLease(60);
      const metadata = { pid: String(holder.pid), host: holder.host, purpose: 'the%20lake%20log%20writer', since: '2026-03-01T00%3A00%3A00.000Z', leaseseconds: '60' };
      await file.setMetadata(metadata, { conditions: { leaseId: lease.leaseId } });
      return lease.leaseId;
    },
  };
}

async function openIngester(layout: LakeLayout, options: Parameters<typeof Ingester.open>[2] = {}): Promise<Ingester> {
  const ingester = await Ingester.open(layout, registry, { partitions: 2, ...options });
  open.push(ingester);
  return ingester;
}

async function ingest(ingester: Ingester, ...ids: string[]): Promise<void> {
  for (const id of ids) ingester.decide(registerCharger(`L-${id}`, id), 'test');
  await ingester.commit();
}

describe('leases in the lake exclude writers on other machines', () => {
  it('a second log writer is refused while the first holds the lease, naming it, and takes over once it is released', async () => {
    const lake = sharedLake();
    const first = await openIngester(lake.machine());
    await ingest(first, 'a-1');
    const refused = await Ingester.open(lake.machine(), registry).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(LockHeldError);
    expect((refused as Error).message).toContain(`the lake log writer is locked by pid ${process.pid} on ${os.hostname()}`);
    expect((refused as Error).message).toContain(`/${lake.directory}/locks/log-writer.lease), an ADLS lease it renews`);

    await first.close();
    const second = await openIngester(lake.machine());
    await ingest(second, 'a-2');
    expect(remoteLog(dfs, 'lake', lake.directory).records<{ commandId: string }>('commands').map((r) => r.commandId)).toEqual(['a-1', 'a-2']);
  });

  it('a writer on another machine that died: refused until its lease runs out, then taken over', async () => {
    const lake = sharedLake();
    const deadLeaseId = await lake.leaseAs({ pid: 4242, host: 'machine-b' });
    const refused = await Ingester.open(lake.machine(), registry).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(LockHeldError);
    expect((refused as Error).message).toMatch(/locked by pid 4242 on machine-b since 2026-03-01T00:00:00.000Z .*the lease runs out 60 s after its last renewal/);

    dfs.store.clockOffsetMs += 61_000; // a minute passes on the service's clock without a renewal
    const taker = await openIngester(lake.machine());
    await ingest(taker, 'b-1');
    // The dead holder's lease id no longer opens anything.
    const stale = filesystem.getFileClient(`${lake.directory}/locks/log-writer.lease`);
    await expect(stale.setMetadata({ pid: '4242' }, { conditions: { leaseId: deadLeaseId } })).rejects.toMatchObject({ statusCode: 412 });
  });

  it('a writer of this host whose process is gone: its lease is broken at once', async () => {
    const lake = sharedLake();
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    const goneLeaseId = await lake.leaseAs({ pid: Number(gone), host: os.hostname() });
    const taker = await openIngester(lake.machine()); // the dead process's lease had a minute to go
    await ingest(taker, 'c-1');
    const stale = filesystem.getFileClient(`${lake.directory}/locks/log-writer.lease`).getDataLakeLeaseClient(goneLeaseId);
    await expect(stale.renewLease()).rejects.toMatchObject({ statusCode: 409, code: 'LeaseIdMismatchWithLeaseOperation' });
  });

  it('a writer that lost its lease while it could not renew stops writing; its recovery names the new holder', async () => {
    const lake = sharedLake();
    const first = await openIngester(lake.machine({ viaProxy: true }), { lease: { seconds: 15, renewEveryMs: 50 } });
    await ingest(first, 'd-1');

    const cutOff = proxy.inject({ fault: 'busy', match: (r) => r.url.includes(`/${lake.directory}/locks/log-writer.lease?comp=lease`) });
    await waitUntil(() => cutOff.hits >= 1); // its renewals fail now
    dfs.store.clockOffsetMs += 16_000; // ...until its lease runs out on the service
    const second = await openIngester(lake.machine());
    await ingest(second, 'd-2');
    cutOff.remove();

    first.decide(registerCharger('L-d-3', 'd-3'), 'test');
    await expect(first.commit()).rejects.toThrow(/lease .* (taken over or broken|could not be renewed)/);
    await expect(first.recover()).rejects.toThrow(/the lake log writer is locked by pid/);
    await ingest(second, 'd-4');
    expect(remoteLog(dfs, 'lake', lake.directory).records<{ commandId: string }>('commands').map((r) => r.commandId)).toEqual(['d-1', 'd-2', 'd-4']);
  });

  it('every lease step repeats safely after a lost answer (acquire, record the holder, release)', async () => {
    const lake = sharedLake();
    const layout = lake.machine({ viaProxy: true });
    const lost = ['comp=lease', 'comp=metadata'].map((step) =>
      proxy.inject({ fault: 'apply-then-500', times: 1, match: (r) => r.url.includes(`/${lake.directory}/locks/`) && r.url.includes(step) }));
    const lock = await acquireLock(layout.lockFile('log-writer'), 'the lake log writer');
    expect(lost.map((l) => l.hits)).toEqual([1, 1]);
    const release = proxy.inject({ fault: 'apply-then-drop', times: 1, match: (r) => r.url.includes(`/${lake.directory}/locks/`) && r.url.includes('comp=lease') });
    await lock.release();
    expect(release.hits).toBe(1);
    const again = await acquireLock(lake.machine().lockFile('log-writer'), 'the lake log writer'); // released, not left to run out
    await again.release();
  });

  it('projection jobs and the forwarder take the same leases: a second machine is refused', async () => {
    const lake = sharedLake();
    const first = lake.machine();
    const second = lake.machine();
    await ingest(await openIngester(first), 'e-1');
    const configFile = path.join(tempDir(), 'jobs.config.json');
    fs.writeFileSync(configFile, JSON.stringify({ domains: ['superchargers'] }));
    const config = await loadConfig({ config: configFile });
    const job = config.jobs.find((j) => j.name === 'superchargers')!;

    const held = await acquireLock(first.lockFile(`job-${job.name}`), `job ${job.name}`);
    await expect(runJob(second, job)).rejects.toThrow(new RegExp(`job superchargers is locked by pid ${process.pid} .*/locks/job-superchargers.lease`));
    await held.release();
    expect((await runJob(second, job)).applied).toBe(1);

    const forwarder = await acquireLock(first.lockFile('forwarder-hub'), 'the Event Hubs forwarder to hub');
    await expect(acquireLock(second.lockFile('forwarder-hub'), 'the Event Hubs forwarder to hub')).rejects.toBeInstanceOf(LockHeldError);
    await forwarder.release();
  });
});

async function waitUntil(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !condition(); i++) await new Promise((r) => setTimeout(r, 25));
  expect(condition()).toBe(true);
}
