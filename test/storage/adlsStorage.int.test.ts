/**
 * The LakeStorage contract against ADLS Gen2: the DFS test server on loopback with the real SDK,
 * and a real account when EVENTLAKE_TEST_ADLS names one. Then what only ADLS needs proving: the
 * target name of an atomic write is only ever renamed into place, appenders refuse a second
 * writer, the download cache is reused. (Lost answers: adlsLostAnswers.int.test.ts.)
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataLakeServiceClient, StorageSharedKeyCredential } from '@azure/storage-file-datalake';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { AppendConflictError } from '../../lake/storage/adlsAppender.js';
import { AdlsStorage } from '../../lake/storage/adlsStorage.js';
import { openLakeStorage, parseLakeLocation, type AdlsStorageConfig } from '../../lake/storage/openLakeStorage.js';
import { devAccountKey, devAccountName } from '../servers/azurite.js';
import { startDfsServer, type DfsServer } from '../servers/dfsServer.js';
import { startFaultProxy, type FaultProxy } from '../servers/faultProxy.js';
import { describeLakeStorageContract } from './lakeStorage.contract.js';
import { rejection } from '../support/rejection.js';

const cacheFolder = fs.mkdtempSync(path.join(os.tmpdir(), 'eventlake-adls-cache-'));
afterAll(() => fs.rmSync(cacheFolder, { recursive: true, force: true }));

describe('ADLS Gen2 on the DFS test server', () => {
  let dfs: DfsServer;
  let folders = 0;
  const config = (directory: string): AdlsStorageConfig => ({
    type: 'adls', accountUrl: dfs.url, filesystem: 'lake', directory, accountKey: devAccountKey,
    cacheDir: path.join(cacheFolder, directory),
  });
  /** A storage for a fresh folder of the `lake` filesystem, made as users make it: from config. */
  const fresh = async (): Promise<AdlsStorage> => (await openLakeStorage(config(`contract-${++folders}`))) as AdlsStorage;
  /** What the server was asked about one path of a storage: `METHOD ?query -> status`. */
  const requestsFor = (storage: AdlsStorage, file: string): string[] => {
    const full = `/lake/${storage.location.split('/lake/')[1]}/${file}`;
    return dfs.requests
      .map((r) => r.replace(`/${devAccountName}/`, '/'))
      .filter((r) => r.split(' ')[1].split('?')[0] === full)
      .map((r) => `${r.split(' ')[0]} ?${r.split(' ')[1].split('?')[1] ?? ''} ${r.split(' ').slice(2).join(' ')}`);
  };

  beforeAll(async () => {
    dfs = await startDfsServer();
    const created = await openLakeStorage({ ...config('setup'), createFilesystem: true });
    expect(created.location).toBe(`${dfs.url}/lake/setup`);
  });
  afterAll(async () => {
    await dfs?.close();
  });

  describeLakeStorageContract('ADLS Gen2 (DFS test server)', fresh);

  test('why writes go through a temp name: Path - Create shows the target, empty, before its bytes are flushed', async () => {
    const service = new DataLakeServiceClient(dfs.url, new StorageSharedKeyCredential(devAccountName, devAccountKey));
    const file = service.getFileSystemClient('lake').getFileClient(`premise-${randomUUID()}/commit.json`);
    await file.create({ conditions: { ifNoneMatch: '*' } });
    await file.append(Buffer.from('{"add":{}}'), 0, 10);
    expect(await file.exists()).toBe(true); // a reader now finds a file...
    expect((await file.readToBuffer()).length).toBe(0); // ...with nothing in it
    await file.flush(10);
    expect((await file.readToBuffer()).toString()).toBe('{"add":{}}');
  });

  test('createIfAbsent and replace never create, append to or flush the target: it appears by one rename', async () => {
    const storage = await fresh();
    await storage.createIfAbsent('tables/t/_delta_log/00000000000000000000.json', '{"commitInfo":{}}\n');
    await storage.replace('log/HEAD', '{"commit":1}');
    await storage.replace('log/HEAD', '{"commit":2}');
    // mode=legacy is the rename (Path - Create with x-ms-rename-source); reads are HEAD/GET.
    expect(requestsFor(storage, 'tables/t/_delta_log/00000000000000000000.json')).toEqual(['PUT ?mode=legacy -> 201']);
    expect(requestsFor(storage, 'log/HEAD')).toEqual(['PUT ?mode=legacy -> 201', 'PUT ?mode=legacy -> 201']);
    expect(await storage.list('log')).toMatchObject([{ name: 'HEAD' }]); // no temp file left behind
  });

  test('a losing createIfAbsent leaves no temp file and changes nothing', async () => {
    const storage = await fresh();
    await storage.createIfAbsent('meta.json', 'first');
    await expect(storage.createIfAbsent('meta.json', 'second')).rejects.toThrow(/meta\.json already exists/);
    expect((await storage.list('')).map((e) => e.name)).toEqual(['meta.json']);
  });

  test('a second writer makes the first appender fail loudly, naming the file', async () => {
    const storage = await fresh();
    const first = await storage.openAppender('log/p0/00000000000000000001.ndjson');
    await first.append(Buffer.from('a\n'));
    const second = await storage.openAppender('log/p0/00000000000000000001.ndjson');
    await second.append(Buffer.from('b\n'));
    const refused = await first.append(Buffer.from('c\n')).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AppendConflictError);
    expect((refused as Error).message).toContain(`${storage.location}: log/p0/00000000000000000001.ndjson was changed by another writer`);
    expect((await storage.read('log/p0/00000000000000000001.ndjson')).toString()).toBe('a\nb\n');

    // A replace of the same length moves the ETag too: the stale appender is refused at its flush.
    await storage.replace('log/p0/00000000000000000001.ndjson', 'x\ny\n');
    await expect(second.append(Buffer.from('z\n'))).rejects.toBeInstanceOf(AppendConflictError);
    expect((await storage.read('log/p0/00000000000000000001.ndjson')).toString()).toBe('x\ny\n');
  });

  test('localPath downloads once per version: an unchanged file is served from the cache', async () => {
    const storage = await fresh();
    await storage.replace('tables/t/part-0.parquet', 'PAR1 one');
    const downloads = () => requestsFor(storage, 'tables/t/part-0.parquet').filter((r) => r.startsWith('GET')).length;
    const first = await storage.localPath('tables/t/part-0.parquet');
    const again = await storage.localPath('tables/t/part-0.parquet');
    expect(again).toBe(first);
    expect(first.startsWith(storage.cacheRoot)).toBe(true);
    expect(downloads()).toBe(1);
    await storage.replace('tables/t/part-0.parquet', 'PAR1 two');
    const replaced = await storage.localPath('tables/t/part-0.parquet');
    expect(replaced).not.toBe(first);
    expect(fs.readFileSync(replaced, 'utf8')).toBe('PAR1 two');
    expect(fs.existsSync(first)).toBe(false); // the old version is pruned
    expect(downloads()).toBe(2);
  });

  test('errors name the lake, the operation and the file, and never carry the key', async () => {
    const service = new DataLakeServiceClient(dfs.url, new StorageSharedKeyCredential(devAccountName, devAccountKey));
    const missing = new AdlsStorage({ service, filesystem: 'no-such-fs', directory: 'x', secrets: [devAccountKey] });
    const error = await rejection(missing.read('log/HEAD'));
    expect(error.message).toBe(`${dfs.url}/no-such-fs/x: read log/HEAD failed: the filesystem does not exist (create it, or set createFilesystem)`);
    const listed = await rejection(missing.list('log'));
    expect(String(listed)).toMatch(/no-such-fs\/x: list log failed/);
    // Opened from config, a missing filesystem is refused at once.
    const opened = await rejection(openLakeStorage({ ...config('x'), filesystem: 'no-such-fs' }));
    expect(opened.message).toBe(`${dfs.url}/no-such-fs/x: open / failed: the filesystem does not exist (create it, or set createFilesystem)`);
    for (const message of [error.message, String(listed), JSON.stringify(error), opened.message]) expect(message).not.toContain(devAccountKey);
  });

  test('a wrong account key is refused when the lake is opened, naming both endpoints and not the key', async () => {
    const wrongKey = Buffer.from('a key of another account, 64 bytes long, like a real one is ....').toString('base64');
    const error = await rejection(openLakeStorage({ ...config('wrong-key'), accountKey: wrongKey }));
    expect(error.message).toContain(`${dfs.url}/lake/wrong-key: the blob endpoint (${dfs.url}/lake) failed: HTTP 403 AuthenticationFailed: the credentials were refused`);
    expect(error.message).toContain(`the dfs endpoint (${dfs.url}/lake) failed: HTTP 403 AuthenticationFailed`);
    expect(error.message).not.toContain(wrongKey);
  });

  describe('the blob and dfs endpoints are checked when the lake is opened', () => {
    // Host-style names as on Azure, reached through the fault proxy as an HTTP forward proxy; the
    // SDK sends reads and properties to <account>.blob..., writes to <account>.dfs...
    const accountUrl = `http://${devAccountName}.dfs.core.windows.net`;
    let proxy: FaultProxy;
    let saved: string | undefined;
    beforeAll(async () => {
      proxy = await startFaultProxy(dfs.port);
      saved = process.env.HTTP_PROXY;
      process.env.HTTP_PROXY = `http://127.0.0.1:${proxy.port}`; // read when a client is made
    });
    afterAll(async () => {
      if (saved === undefined) delete process.env.HTTP_PROXY;
      else process.env.HTTP_PROXY = saved;
      await proxy?.close();
    });
    const open = () => openLakeStorage({ type: 'adls', accountUrl, filesystem: 'lake', directory: 'endpoints', accountKey: devAccountKey, cacheDir: path.join(cacheFolder, 'endpoints') });

    test('both reachable: the lake opens and works', async () => {
      const storage = await open();
      await storage.replace('x.json', 'x');
      expect((await storage.read('x.json')).toString()).toBe('x');
      expect(proxy.log.some((l) => l.includes(`${devAccountName}.blob.core.windows.net/lake?restype=container`))).toBe(true);
      expect(proxy.log.some((l) => l.includes(`${devAccountName}.dfs.core.windows.net/lake?`))).toBe(true);
    });

    test.each(['blob', 'dfs'])('a firewall in front of the %s endpoint is named at open', async (blocked) => {
      const rule = proxy.inject({ fault: 'firewall', match: (r) => r.host.startsWith(`${devAccountName}.${blocked}.`) });
      try {
        const error = await rejection(open());
        const other = blocked === 'blob' ? 'dfs' : 'blob';
        expect(error.message).toContain(`the ${blocked} endpoint (http://${devAccountName}.${blocked}.core.windows.net/lake) failed: HTTP 403 AuthorizationFailure: the account's network rules block this machine`);
        expect(error.message).not.toContain(`the ${other} endpoint (`);
        expect(error.message).toContain('Reads and properties go to the blob endpoint, writes to the dfs endpoint');
      } finally {
        rule.remove();
      }
    });
  });

  test('a lake folder can be removed whole', async () => {
    const storage = await fresh();
    await storage.replace('a/b/c.txt', 'c');
    await storage.deleteDirectory('a');
    expect(await storage.list('')).toEqual([]);
    await storage.deleteDirectory('a');
  });
});

/**
 * EVENTLAKE_TEST_ADLS: a real account for the same contract, as JSON
 * (`{"accountUrl":"https://<account>.dfs.core.windows.net","filesystem":"<fs>","accountKey":"..."}`,
 * or with connectionString / sasToken, or none of them for DefaultAzureCredential) or as an
 * abfss:// URL (credentials from EVENTLAKE_ADLS_* or DefaultAzureCredential). Each run works
 * in its own folder and removes it afterwards.
 */
const realAccount = process.env.EVENTLAKE_TEST_ADLS;
if (!realAccount) {
  console.log('EVENTLAKE_TEST_ADLS is not set: skipping the LakeStorage contract against a real ADLS Gen2 account.');
}

describe.skipIf(!realAccount)('ADLS Gen2, real account (EVENTLAKE_TEST_ADLS)', () => {
  const base = realAccount ? realConfig(realAccount) : null;
  const runFolder = `${base?.directory ? `${base.directory}/` : ''}eventlake-contract-${randomUUID()}`;
  let folders = 0;

  afterAll(async () => {
    if (!base) return;
    const root = (await openLakeStorage({ ...base, directory: runFolder })) as AdlsStorage;
    await root.deleteDirectory('');
  });

  describeLakeStorageContract('ADLS Gen2 (real account)', () =>
    openLakeStorage({ ...base!, directory: `${runFolder}/${++folders}`, cacheDir: path.join(cacheFolder, 'real', String(folders)) }));
});

function realConfig(value: string): AdlsStorageConfig {
  const parsed = value.trim().startsWith('{') ? { type: 'adls' as const, ...(JSON.parse(value) as Omit<AdlsStorageConfig, 'type'>) } : parseLakeLocation(value);
  if (parsed.type !== 'adls') throw new Error('EVENTLAKE_TEST_ADLS must name an ADLS Gen2 account (JSON or abfss:// URL)');
  return parsed;
}
