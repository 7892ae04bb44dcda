/**
 * Every ADLS step the lake takes (create, append, flush, rename, delete) is safe to repeat after
 * its answer was lost. The fault proxy lets the DFS test server apply a request, then answers 500
 * InternalError or drops the connection; the real SDK's retry policy (which retries a 500 and a
 * reset connection, for every method) then sends the same request again, and it meets the state
 * its first try made. Each LakeStorage operation must still succeed and leave exactly what one
 * clean call leaves.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DataLakeServiceClient, StorageSharedKeyCredential } from '@azure/storage-file-datalake';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { AdlsStorage } from '../../lake/storage/adlsStorage.js';
import { AlreadyExistsError } from '../../lake/storage/lakeStorage.js';
import { devAccountKey, devAccountName } from '../servers/azurite.js';
import { startDfsServer, type DfsServer } from '../servers/dfsServer.js';
import { startFaultProxy, type Fault, type FaultProxy, type ProxiedRequest } from '../servers/faultProxy.js';

type Step = 'create' | 'append' | 'flush' | 'rename' | 'delete';

/** How each step looks on the wire (DFS REST: Path - Create, Path - Update, Path - Create with a rename source, Path - Delete). */
const STEPS: Record<Step, (r: ProxiedRequest) => boolean> = {
  create: (r) => r.method === 'PUT' && /[?&]resource=file/.test(r.url),
  append: (r) => r.method === 'PATCH' && /[?&]action=append/.test(r.url),
  flush: (r) => r.method === 'PATCH' && /[?&]action=flush/.test(r.url),
  rename: (r) => r.method === 'PUT' && /[?&]mode=legacy/.test(r.url),
  delete: (r) => r.method === 'DELETE' && !/restype=container/.test(r.url),
};

/** The LakeStorage operations, and the steps each one takes. */
const OPERATIONS: { name: string; steps: Step[]; run: (storage: AdlsStorage) => Promise<void> }[] = [
  {
    name: 'replace',
    steps: ['create', 'append', 'flush', 'rename'],
    run: async (storage) => {
      await storage.replace('state/current.json', 'v1');
      await storage.replace('state/current.json', 'v2');
      expect((await storage.read('state/current.json')).toString()).toBe('v2');
      expect((await storage.list('state')).map((e) => e.name)).toEqual(['current.json']);
    },
  },
  {
    name: 'createIfAbsent',
    steps: ['create', 'append', 'flush', 'rename'],
    run: async (storage) => {
      await storage.createIfAbsent('tables/t/_delta_log/00000000000000000000.json', 'mine');
      await expect(storage.createIfAbsent('tables/t/_delta_log/00000000000000000000.json', 'theirs')).rejects.toBeInstanceOf(AlreadyExistsError);
      expect((await storage.read('tables/t/_delta_log/00000000000000000000.json')).toString()).toBe('mine');
      expect((await storage.list('tables/t/_delta_log')).map((e) => e.name)).toEqual(['00000000000000000000.json']);
    },
  },
  {
    name: 'an appender (a new log segment, then appends)',
    steps: ['create', 'append', 'flush'],
    run: async (storage) => {
      const appender = await storage.openAppender('log/p0/00000000000000000001.ndjson');
      await appender.append(Buffer.from('{"sequence":1}\n'));
      await appender.append(Buffer.from('{"sequence":2}\n'));
      expect(appender.length).toBe(30);
      expect((await storage.read('log/p0/00000000000000000001.ndjson')).toString()).toBe('{"sequence":1}\n{"sequence":2}\n');
    },
  },
  {
    name: 'upload',
    steps: ['create', 'append', 'flush', 'rename'],
    run: async (storage) => {
      const folder = await fs.mkdtemp(path.join(os.tmpdir(), 'eventlake-lost-'));
      try {
        await fs.writeFile(path.join(folder, 'part.parquet'), 'PAR1 data');
        await storage.upload(path.join(folder, 'part.parquet'), 'tables/t/part-0.parquet');
      } finally {
        await fs.rm(folder, { recursive: true, force: true });
      }
      expect((await storage.read('tables/t/part-0.parquet')).toString()).toBe('PAR1 data');
      expect((await storage.list('tables/t')).map((e) => e.name)).toEqual(['part-0.parquet']);
    },
  },
  {
    name: 'delete',
    steps: ['delete'],
    run: async (storage) => {
      await storage.delete('trash/x.json');
      expect(await storage.size('trash/x.json')).toBeNull();
      expect(await storage.list('trash')).toEqual([]);
    },
  },
];

const FAULTS: Fault[] = ['apply-then-500', 'apply-then-drop'];

let dfs: DfsServer;
let proxy: FaultProxy;
let folders = 0;

beforeAll(async () => {
  dfs = await startDfsServer();
  proxy = await startFaultProxy(dfs.port);
  await new DataLakeServiceClient(dfs.url, new StorageSharedKeyCredential(devAccountName, devAccountKey)).getFileSystemClient('lake').create();
});
afterAll(async () => {
  await proxy?.close();
  await dfs?.close();
});

/** A storage whose calls go through the proxy, with the SDK's retry policy at short delays. */
function storageViaProxy(): AdlsStorage {
  const service = new DataLakeServiceClient(proxy.via(dfs.url), new StorageSharedKeyCredential(devAccountName, devAccountKey), {
    retryOptions: { retryDelayInMs: 1, maxRetryDelayInMs: 5 },
  });
  return new AdlsStorage({ service, filesystem: 'lake', directory: `lost-${++folders}`, cacheDir: path.join(os.tmpdir(), 'eventlake-lost-cache') });
}

describe('a lost answer to any ADLS step is retried safely', () => {
  const cases = FAULTS.flatMap((fault) => OPERATIONS.flatMap((op) => op.steps.map((step) => ({ fault, op, step }))));

  test.each(cases)('$op.name, $step answered by $fault', async ({ fault, op, step }) => {
    const storage = storageViaProxy();
    if (op.name === 'delete') await storage.replace('trash/x.json', 'x');
    const folder = storage.location.split('/').pop()!;
    const injected = proxy.inject({ fault, times: 1, match: (r) => r.url.includes(`/${folder}/`) && STEPS[step](r) });
    try {
      await op.run(storage);
    } finally {
      injected.remove();
    }
    expect(injected.hits).toBe(1); // the step really lost its first answer
  });
});
