/**
 * The ADLS Gen2 test server against the REAL @azure/storage-file-datalake SDK (and, for the
 * Blob calls it shares, @azure/storage-blob) over HTTP on loopback.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  DataLakeServiceClient, StorageSharedKeyCredential, type DataLakeFileSystemClient,
} from '@azure/storage-file-datalake';
import { BlobServiceClient, StorageSharedKeyCredential as BlobKeyCredential } from '@azure/storage-blob';
import { startDfsServer, type DfsServer } from './dfsServer.js';
import { devAccountKey, devAccountName } from './azurite.js';

/**
 * A request signed by hand from the "Authorize with Shared Key" spec (not by the SDK, and not by
 * the server's own code): the twelve standard fields empty, x-ms-* headers sorted, then
 * `/{account}{path}` and the query parameters sorted by name, one per line.
 */
async function signedFetch(method: string, path: string, query = '', options: { sendTo?: string; date?: Date } = {}): Promise<Response> {
  const headers: Record<string, string> = { 'x-ms-date': (options.date ?? new Date()).toUTCString(), 'x-ms-version': '2025-01-05' };
  const params = query ? query.split('&').map((p) => p.split('=')).sort(([a], [b]) => (a < b ? -1 : 1)) : [];
  const toSign = [method, '', '', '', '', '', '', '', '', '', '', '', ''].join('\n')
    + Object.keys(headers).sort().map((h) => `${h}:${headers[h]}\n`).join('')
    + `/${devAccountName}${path}` + params.map(([k, v]) => `\n${k}:${decodeURIComponent(v)}`).join('');
  const signature = createHmac('sha256', Buffer.from(devAccountKey, 'base64')).update(toSign, 'utf8').digest('base64');
  const url = `${new URL(server.url).origin}${options.sendTo ?? path}${query ? `?${query}` : ''}`;
  return fetch(url, { method, headers: { ...headers, Authorization: `SharedKey ${devAccountName}:${signature}` } });
}

/** The SDK's error for a failed call: HTTP status and the service's error code. */
async function failure(promise: Promise<unknown>): Promise<{ statusCode?: number; code?: string }> {
  try {
    await promise;
  } catch (err) {
    const { statusCode, code } = err as { statusCode?: number; code?: string };
    return { statusCode, code };
  }
  throw new Error('expected the call to fail');
}

let server: DfsServer;

describe('ADLS Gen2 test server with the real SDK', () => {
  let lake: DataLakeFileSystemClient;

  beforeAll(async () => {
    server = await startDfsServer();
    const service = new DataLakeServiceClient(server.url, new StorageSharedKeyCredential(devAccountName, devAccountKey));
    lake = service.getFileSystemClient('lake');
    await lake.create();
  });
  afterAll(async () => {
    if (process.env.DUMP_REQUESTS) console.log(server.requests.join('\n'));
    await server?.close();
  });

  test('filesystems: create, exists, a second create conflicts, delete', async () => {
    const service = new DataLakeServiceClient(server.url, new StorageSharedKeyCredential(devAccountName, devAccountKey));
    const scratch = service.getFileSystemClient('scratch');
    expect(await scratch.exists()).toBe(false);
    await scratch.create();
    expect(await scratch.exists()).toBe(true);
    // Filesystem calls go through the Blob API, so the code is the Blob one.
    expect(await failure(scratch.create())).toEqual({ statusCode: 409, code: 'ContainerAlreadyExists' });
    await scratch.delete();
    expect(await scratch.exists()).toBe(false);
  });

  test('append at 0 and at N, flush, then read it back whole and in part', async () => {
    const file = lake.getFileClient('log/00000.ndjson');
    await file.create({ metadata: { writer: 'test' }, pathHttpHeaders: { contentType: 'application/x-ndjson' } });
    await file.append(Buffer.from('{"a":1}\n'), 0, 8);
    await file.append(Buffer.from('{"b":2}\n'), 8, 8);
    // Appended bytes are invisible until flushed.
    expect((await file.getProperties()).contentLength).toBe(0);
    const flushed = await file.flush(16);

    const props = await file.getProperties();
    expect(props.contentLength).toBe(16);
    expect(props.etag).toBe(flushed.etag);
    expect(props.lastModified).toBeInstanceOf(Date);
    expect(props.metadata).toEqual({ writer: 'test' });
    expect(props.contentType).toBe('application/x-ndjson');
    expect((await lake.getDirectoryClient('log').getProperties()).metadata).toEqual({ hdi_isfolder: 'true' });
    expect((await file.readToBuffer()).toString()).toBe('{"a":1}\n{"b":2}\n');
    expect((await file.readToBuffer(8, 7)).toString()).toBe('{"b":2}');
    const part = await file.read(2, 3);
    expect(part.contentLength).toBe(3);
    expect(part.contentRange).toBe('bytes 2-4/16');
    expect(await failure(file.read(16, 1))).toEqual({ statusCode: 416, code: 'InvalidRange' });
    expect(await file.exists()).toBe(true);
    expect(await lake.getFileClient('log/missing').exists()).toBe(false);
  });

  test('positions that do not continue the file are InvalidFlushPosition', async () => {
    const file = lake.getFileClient('positions.bin');
    await file.upload(Buffer.from('abc'));
    expect(await failure(file.append(Buffer.from('x'), 1, 1))).toEqual({ statusCode: 400, code: 'InvalidFlushPosition' });
    await file.append(Buffer.from('e'), 4, 1); // leaves a gap at 3
    expect(await failure(file.flush(5))).toEqual({ statusCode: 400, code: 'InvalidFlushPosition' });
    await file.append(Buffer.from('d'), 3, 1);
    expect(await failure(file.flush(4 + 2))).toEqual({ statusCode: 400, code: 'InvalidFlushPosition' });
    await file.flush(5);
    expect((await file.readToBuffer()).toString()).toBe('abcde');
  });

  test('conditions: If-None-Match * refuses an existing path, a stale ETag refuses a flush', async () => {
    const file = lake.getFileClient('conditional.txt');
    await file.create({ conditions: { ifNoneMatch: '*' } });
    expect(await failure(file.create({ conditions: { ifNoneMatch: '*' } }))).toEqual({ statusCode: 409, code: 'PathAlreadyExists' });
    expect(await failure(file.upload(Buffer.from('x'), { conditions: { ifNoneMatch: '*' } })))
      .toEqual({ statusCode: 409, code: 'PathAlreadyExists' });

    const { etag } = await file.getProperties();
    await file.append(Buffer.from('one'), 0, 3);
    const first = await file.flush(3, { conditions: { ifMatch: etag } });
    await file.append(Buffer.from('two'), 3, 3);
    expect(await failure(file.flush(6, { conditions: { ifMatch: etag } }))).toEqual({ statusCode: 412, code: 'ConditionNotMet' });
    expect((await file.readToBuffer()).toString()).toBe('one');
    await file.flush(6, { conditions: { ifMatch: first.etag } });
    expect((await file.readToBuffer()).toString()).toBe('onetwo');
  });

  test('rename moves a file, refuses to overwrite under If-None-Match *, and moves directories whole', async () => {
    const staged = lake.getFileClient('staging/part-1.parquet');
    await staged.upload(Buffer.from('PAR1'));
    await lake.getDirectoryClient('tables/orders').create();
    await staged.move('tables/orders/part-1.parquet');
    expect(await staged.exists()).toBe(false);
    const moved = lake.getFileClient('tables/orders/part-1.parquet');
    expect((await moved.readToBuffer()).toString()).toBe('PAR1');

    const other = lake.getFileClient('staging/part-2.parquet');
    await other.upload(Buffer.from('PAR2'));
    expect(await failure(other.move('tables/orders/part-1.parquet', { destinationConditions: { ifNoneMatch: '*' } })))
      .toEqual({ statusCode: 409, code: 'PathAlreadyExists' });
    expect(await failure(other.move('nowhere/part-2.parquet'))).toEqual({ statusCode: 404, code: 'RenameDestinationParentPathNotFound' });

    await lake.getDirectoryClient('tables/orders').move('tables/orders_v2');
    expect((await lake.getFileClient('tables/orders_v2/part-1.parquet').readToBuffer()).toString()).toBe('PAR1');
    expect(await lake.getDirectoryClient('tables/orders').exists()).toBe(false);
  });

  test('listPaths: recursive or not, under a directory, in pages', async () => {
    const dir = lake.getDirectoryClient('list');
    await dir.create();
    for (const name of ['a.json', 'b.json', 'sub/c.json', 'sub/deeper/d.json']) {
      await lake.getFileClient(`list/${name}`).upload(Buffer.from(name));
    }
    const names = async (options: Parameters<DataLakeFileSystemClient['listPaths']>[0]) => {
      const result: string[] = [];
      for await (const path of lake.listPaths(options)) result.push(`${path.name}${path.isDirectory ? '/' : ''}`);
      return result;
    };
    expect(await names({ path: 'list', recursive: false })).toEqual(['list/a.json', 'list/b.json', 'list/sub/']);
    expect(await names({ path: 'list', recursive: true })).toEqual([
      'list/a.json', 'list/b.json', 'list/sub/', 'list/sub/c.json', 'list/sub/deeper/', 'list/sub/deeper/d.json',
    ]);

    const pages: string[][] = [];
    for await (const page of lake.listPaths({ path: 'list', recursive: true }).byPage({ maxPageSize: 4 })) {
      pages.push((page.pathItems ?? []).map((p) => p.name!));
    }
    expect(pages.map((p) => p.length)).toEqual([4, 2]);

    const [file] = (await lake.listPaths({ path: 'list', recursive: false }).byPage().next()).value.pathItems!;
    expect(file).toMatchObject({ name: 'list/a.json', isDirectory: false, contentLength: 6 });
    expect(file.lastModified).toBeInstanceOf(Date);
    expect(await failure(names({ path: 'no-such-dir' }))).toEqual({ statusCode: 404, code: 'PathNotFound' });
  });

  test('delete: a file, not a non-empty directory unless recursive', async () => {
    const dir = lake.getDirectoryClient('trash');
    await lake.getFileClient('trash/x/one.txt').upload(Buffer.from('1'));
    await lake.getFileClient('trash/two.txt').upload(Buffer.from('2'));
    await lake.getFileClient('trash/two.txt').delete();
    expect(await lake.getFileClient('trash/two.txt').exists()).toBe(false);
    expect(await failure(dir.delete(false))).toEqual({ statusCode: 409, code: 'DirectoryNotEmpty' });
    await dir.delete(true);
    expect(await dir.exists()).toBe(false);
    expect(await lake.getFileClient('trash/x/one.txt').exists()).toBe(false);
    expect(await failure(lake.getFileClient('trash/two.txt').delete())).toEqual({ statusCode: 404, code: 'PathNotFound' });
  });

  test('errors come in the service shape: JSON for DFS calls, XML for Blob calls, code in x-ms-error-code', async () => {
    const path = `/${devAccountName}/lake/missing.txt`;
    const dfs = await signedFetch('PATCH', path, 'action=flush&position=0');
    expect(dfs.status).toBe(404);
    expect(dfs.headers.get('x-ms-error-code')).toBe('PathNotFound');
    expect(((await dfs.json()) as { error: { code: string } }).error.code).toBe('PathNotFound');
    const blob = await signedFetch('GET', path);
    expect(blob.headers.get('x-ms-error-code')).toBe('BlobNotFound');
    expect(await blob.text()).toMatch(/^<\?xml.*<Error><Code>BlobNotFound<\/Code><Message>The specified blob does not exist\./s);
    const anonymous = await fetch(`${server.url}/lake/missing.txt`);
    expect(anonymous.status).toBe(401);
  });

  test('Shared Key signatures are verified: a wrong key, a forged signature or a changed request is 403 AuthenticationFailed', async () => {
    const wrongKey = Buffer.from('not the account key').toString('base64');
    const intruder = new DataLakeServiceClient(server.url, new StorageSharedKeyCredential(devAccountName, wrongKey)).getFileSystemClient('lake');
    expect(await failure(intruder.getFileClient('x.txt').upload(Buffer.from('x')))).toEqual({ statusCode: 403, code: 'AuthenticationFailed' });
    expect(await failure(intruder.exists())).toEqual({ statusCode: 403, code: 'AuthenticationFailed' });
    expect(await lake.getFileClient('x.txt').exists()).toBe(false); // nothing was written

    // Signed for one path, sent to another: the Blob API explains what the server signed.
    const path = `/${devAccountName}/lake/missing.txt`;
    const moved = await signedFetch('GET', path, '', { sendTo: `/${devAccountName}/lake/other.txt` });
    expect(moved.status).toBe(403);
    const text = await moved.text();
    expect(text).toContain('<Code>AuthenticationFailed</Code>');
    expect(text).toContain(`Server used following string to sign: 'GET\n`);
    expect(text).toContain(`/${devAccountName}/${devAccountName}/lake/other.txt'`);
    const forged = await fetch(`${server.url}/lake/missing.txt`, {
      headers: { Authorization: `SharedKey ${devAccountName}:c2lnbmF0dXJl`, 'x-ms-date': new Date().toUTCString(), 'x-ms-version': '2025-01-05' },
    });
    expect(forged.status).toBe(403);
    const stale = await signedFetch('GET', path, '', { date: new Date(Date.now() - 16 * 60_000) });
    expect(stale.status).toBe(403);
    expect(await stale.text()).toContain('Request date header too old');
  });

  test('leases: one holder at a time, writes need its id, it expires with the service clock, break and release free it', async () => {
    const file = lake.getFileClient('locks/writer.lease');
    await file.create();
    const first = file.getDataLakeLeaseClient('11111111-1111-4111-8111-111111111111');
    const second = file.getDataLakeLeaseClient('22222222-2222-4222-8222-222222222222');
    expect(await failure(first.acquireLease(10))).toEqual({ statusCode: 400, code: 'InvalidHeaderValue' });
    expect((await first.acquireLease(15)).leaseId).toBe('11111111-1111-4111-8111-111111111111');
    await first.acquireLease(15); // again with the holder's own id: a retry is harmless
    expect(await failure(second.acquireLease(15))).toEqual({ statusCode: 409, code: 'LeaseAlreadyPresent' });
    expect(await failure(second.renewLease())).toEqual({ statusCode: 409, code: 'LeaseIdMismatchWithLeaseOperation' });
    expect(await file.getProperties()).toMatchObject({ leaseState: 'leased', leaseStatus: 'locked', leaseDuration: 'fixed' });

    // Writes: without the id (DFS and Blob), with another id, then with the holder's.
    expect(await failure(file.append(Buffer.from('x'), 0, 1))).toEqual({ statusCode: 412, code: 'LeaseIdMissing' });
    expect(await failure(file.setMetadata({ holder: 'b' }))).toEqual({ statusCode: 412, code: 'LeaseIdMissing' });
    expect(await failure(file.setMetadata({ holder: 'b' }, { conditions: { leaseId: second.leaseId } }))).toEqual({ statusCode: 412, code: 'LeaseIdMismatchWithBlobOperation' });
    expect(await failure(file.delete())).toEqual({ statusCode: 412, code: 'LeaseIdMissing' });
    const before = (await file.getProperties()).etag;
    await file.setMetadata({ holder: 'a' }, { conditions: { leaseId: first.leaseId } });
    expect((await file.getProperties()).metadata).toEqual({ holder: 'a' });
    expect((await file.getProperties()).etag).not.toBe(before);

    // The duration passes on the service's clock: expired, anyone may take it, the old holder's id is refused.
    server.store.clockOffsetMs += 16_000;
    expect(await file.getProperties()).toMatchObject({ leaseState: 'expired', leaseStatus: 'unlocked' });
    expect(await failure(file.setMetadata({ holder: 'a' }, { conditions: { leaseId: first.leaseId } }))).toEqual({ statusCode: 412, code: 'LeaseLost' });
    await second.acquireLease(60);
    expect(await failure(first.renewLease())).toEqual({ statusCode: 409, code: 'LeaseIdMismatchWithLeaseOperation' });

    // Break: conditional on the ETag it was judged by, then immediate; a broken lease cannot be renewed.
    const { etag } = await file.getProperties();
    expect(await failure(first.breakLease(0, { conditions: { ifMatch: '"0x8DD0000000000"' } }))).toEqual({ statusCode: 412, code: 'ConditionNotMet' });
    expect((await first.breakLease(0, { conditions: { ifMatch: etag } })).leaseTime).toBe(0);
    expect(await file.getProperties()).toMatchObject({ leaseState: 'broken', leaseStatus: 'unlocked' });
    expect(await failure(second.renewLease())).toEqual({ statusCode: 409, code: 'LeaseIsBrokenAndCannotBeRenewed' });
    await first.acquireLease(15);
    await first.breakLease(10); // a break with a period: breaking, still locked
    expect(await file.getProperties()).toMatchObject({ leaseState: 'breaking', leaseStatus: 'locked' });
    expect(await failure(second.acquireLease(15))).toEqual({ statusCode: 409, code: 'LeaseIsBreakingAndCannotBeAcquired' });
    await first.releaseLease();
    expect(await file.getProperties()).toMatchObject({ leaseState: 'available', leaseStatus: 'unlocked' });
    expect(await failure(first.releaseLease())).toEqual({ statusCode: 409, code: 'LeaseIdMismatchWithLeaseOperation' });
    expect(await failure(first.breakLease(0))).toEqual({ statusCode: 409, code: 'LeaseNotPresentWithLeaseOperation' });
    await file.delete();
  });

  test('the Blob SDK on the same endpoint: a block blob upload is a file to the DFS API', async () => {
    const blobs = new BlobServiceClient(server.url, new BlobKeyCredential(devAccountName, devAccountKey));
    const blob = blobs.getContainerClient('lake').getBlockBlobClient('blob/uploaded.txt');
    await blob.upload('via blob', 8);
    expect((await blob.downloadToBuffer()).toString()).toBe('via blob');
    expect((await lake.getFileClient('blob/uploaded.txt').readToBuffer()).toString()).toBe('via blob');
    expect(await failure(blob.upload('again', 5, { conditions: { ifNoneMatch: '*' } }))).toEqual({ statusCode: 409, code: 'BlobAlreadyExists' });
  });
});
