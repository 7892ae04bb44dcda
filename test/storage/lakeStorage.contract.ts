/**
 * What every LakeStorage promises, as one suite that each backend's runner calls with its own
 * factory (a temp folder, the DFS test server, a real ADLS account). A backend is done when this
 * suite passes against it unchanged.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { AlreadyExistsError, NotFoundError, type LakeStorage } from '../../lake/storage/lakeStorage.js';

export function describeLakeStorageContract(name: string, makeStorage: () => Promise<LakeStorage>): void {
  describe(`LakeStorage contract: ${name}`, () => {
    test('reads a whole file and byte ranges; a range past the end is short', async () => {
      const storage = await makeStorage();
      await storage.replace('data/file.txt', 'hello, lake');
      expect((await storage.read('data/file.txt')).toString()).toBe('hello, lake');
      expect((await storage.read('data/file.txt', { offset: 7, length: 4 })).toString()).toBe('lake');
      expect((await storage.read('data/file.txt', { offset: 0, length: 5 })).toString()).toBe('hello');
      expect((await storage.read('data/file.txt', { offset: 9, length: 100 })).toString()).toBe('ke');
      expect((await storage.read('data/file.txt', { offset: 11, length: 4 })).length).toBe(0);
      expect((await storage.read('data/file.txt', { offset: 3, length: 0 })).length).toBe(0);
    });

    test('a byte range read into a given buffer: the bytes asked for, in that memory where the storage can', async () => {
      const storage = await makeStorage();
      await storage.replace('data/into.txt', 'hello, lake');
      const into = Buffer.alloc(16, '.');
      const read = await storage.read('data/into.txt', { offset: 7, length: 8, into: into.subarray(4) });
      expect(read.toString()).toBe('lake');
      // Either a view of `into` (local files) or a buffer of the storage's own (ADLS); never other bytes of `into`.
      if (read.buffer === into.buffer) expect([read.byteOffset - into.byteOffset, into.toString()]).toEqual([4, '....lake........']);
      else expect(into.toString()).toBe('.'.repeat(16));
    });

    test('a missing file: read throws NotFoundError naming it, size is null', async () => {
      const storage = await makeStorage();
      const missing = await storage.read('nowhere/missing.json').catch((error: unknown) => error);
      expect(missing).toBeInstanceOf(NotFoundError);
      expect((missing as NotFoundError).code).toBe('ENOENT');
      expect((missing as NotFoundError).path).toBe('nowhere/missing.json');
      expect((missing as Error).message).toContain('nowhere/missing.json');
      await expect(storage.read('nowhere/missing.json', { offset: 0, length: 10 })).rejects.toBeInstanceOf(NotFoundError);
      expect(await storage.size('nowhere/missing.json')).toBeNull();
      await storage.replace('present/empty.bin', Buffer.alloc(0));
      expect(await storage.size('present/empty.bin')).toBe(0);
      expect((await storage.read('present/empty.bin')).length).toBe(0);
    });

    test('list: files and folders directly under a folder, sorted; empty and missing folders are empty', async () => {
      const storage = await makeStorage();
      await storage.replace('listing/b.json', '{"b":2}');
      await storage.replace('listing/a.json', '{"a":1}');
      await storage.replace('listing/sub/c.json', 'c');
      await storage.replace('listing/sub/deeper/d.json', 'd');
      const entries = await storage.list('listing');
      expect(entries.map(({ name, isDirectory }) => ({ name, isDirectory }))).toEqual([
        { name: 'a.json', isDirectory: false },
        { name: 'b.json', isDirectory: false },
        { name: 'sub', isDirectory: true },
      ]);
      expect(entries[0].size).toBe(7);
      expect(entries[0].lastModified).toBeGreaterThan(Date.parse('2020-01-01'));
      expect((await storage.list('listing/sub')).map((e) => e.name)).toEqual(['c.json', 'deeper']);
      expect((await storage.list('')).map((e) => e.name)).toEqual(['listing']);

      await storage.replace('emptied/only.txt', 'x');
      await storage.delete('emptied/only.txt');
      expect(await storage.list('emptied')).toEqual([]);
      expect(await storage.list('no/such/folder')).toEqual([]);
    });

    test('createIfAbsent creates once; a second create is AlreadyExistsError and the first content stays', async () => {
      const storage = await makeStorage();
      await storage.createIfAbsent('tables/t/_delta_log/00000000000000000000.json', '{"first":true}\n');
      const second = await storage.createIfAbsent('tables/t/_delta_log/00000000000000000000.json', '{"second":true}\n').catch((e: unknown) => e);
      expect(second).toBeInstanceOf(AlreadyExistsError);
      expect((second as AlreadyExistsError).code).toBe('EEXIST');
      expect((second as AlreadyExistsError).path).toBe('tables/t/_delta_log/00000000000000000000.json');
      expect((await storage.read('tables/t/_delta_log/00000000000000000000.json')).toString()).toBe('{"first":true}\n');
      expect((await storage.list('tables/t/_delta_log')).map((e) => e.name)).toEqual(['00000000000000000000.json']);
    });

    test('concurrent createIfAbsent of one path: exactly one writer wins, and its bytes are the file', async () => {
      const storage = await makeStorage();
      const contenders = Array.from({ length: 8 }, (_, i) => `{"writer":${i},"pad":"${'x'.repeat(1000 * i)}"}`);
      const results = await Promise.allSettled(contenders.map((data) => storage.createIfAbsent('commits/00001.json', data)));
      const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(winners).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(AlreadyExistsError);
      expect((await storage.read('commits/00001.json')).toString()).toBe(contenders[winners[0]]);
      expect((await storage.list('commits')).map((e) => e.name)).toEqual(['00001.json']);
    });

    test('replace creates or replaces; a reader sees the old or the new bytes, never a mix or an empty file', async () => {
      const storage = await makeStorage();
      const versions = Array.from({ length: 6 }, (_, i) => `${String(i).repeat(5000)}\n`);
      await storage.replace('state/current.json', versions[0]);
      let replacing = true;
      const seen = new Set<string>();
      const reader = (async () => {
        while (replacing) seen.add((await storage.read('state/current.json')).toString());
      })();
      for (const version of versions.slice(1)) await storage.replace('state/current.json', version);
      replacing = false;
      await reader;
      for (const content of seen) expect(versions).toContain(content);
      expect((await storage.read('state/current.json')).toString()).toBe(versions[versions.length - 1]);
      expect((await storage.list('state')).map((e) => e.name)).toEqual(['current.json']);
    });

    test('names with spaces, @, % and # work everywhere', async () => {
      const storage = await makeStorage();
      const odd = 'odd names/job@v1 50% #1.json';
      await storage.replace(odd, 'one');
      await expect(storage.createIfAbsent(odd, 'two')).rejects.toBeInstanceOf(AlreadyExistsError);
      expect((await storage.read(odd)).toString()).toBe('one');
      expect((await storage.list('odd names')).map((e) => e.name)).toEqual(['job@v1 50% #1.json']);
      expect(await fs.readFile(await storage.localPath(odd), 'utf8')).toBe('one');
      await storage.delete(odd);
      expect(await storage.size(odd)).toBeNull();
    });

    test("names with + ' ( ) \\ % and unicode work for every operation", async () => {
      const storage = await makeStorage();
      const folder = "odd+names/(v1) it's";
      const name = 'a+b=c (1) back\\slash 100% é ü 日本 🚀.json';
      const file = `${folder}/${name}`;
      await storage.replace(file, 'one');
      await expect(storage.createIfAbsent(file, 'two')).rejects.toBeInstanceOf(AlreadyExistsError);
      await storage.createIfAbsent(`${folder}/new ${name}`, 'created');
      expect((await storage.read(file)).toString()).toBe('one');
      expect((await storage.read(file, { offset: 1, length: 2 })).toString()).toBe('ne');
      expect(await storage.size(file)).toBe(3);
      expect((await storage.list(folder)).map((e) => e.name)).toEqual([name, `new ${name}`]);
      expect((await storage.list('odd+names')).map((e) => ({ name: e.name, dir: e.isDirectory }))).toEqual([{ name: "(v1) it's", dir: true }]);
      expect(await fs.readFile(await storage.localPath(file), 'utf8')).toBe('one');
      const appender = await storage.openAppender(`${folder}/log ${name}`);
      await appender.append(Buffer.from('é\n'));
      await appender.append(Buffer.from('日本\n'));
      await appender.close();
      expect((await storage.read(`${folder}/log ${name}`)).toString()).toBe('é\n日本\n');
      await storage.truncate(`${folder}/log ${name}`, 3);
      expect((await storage.read(`${folder}/log ${name}`)).toString()).toBe('é\n');
      const local = await fs.mkdtemp(path.join(os.tmpdir(), 'eventlake-odd-'));
      try {
        await fs.writeFile(path.join(local, 'part'), 'uploaded');
        await storage.upload(path.join(local, 'part'), `${folder}/up ${name}`);
      } finally {
        await fs.rm(local, { recursive: true, force: true });
      }
      expect((await storage.read(`${folder}/up ${name}`)).toString()).toBe('uploaded');
      await storage.delete(file);
      expect(await storage.size(file)).toBeNull();
      expect((await storage.list(folder)).map((e) => e.name)).toEqual([`log ${name}`, `new ${name}`, `up ${name}`]);
    });

    test('delete removes a file; deleting it again, or a file never written, is fine', async () => {
      const storage = await makeStorage();
      await storage.replace('trash/x.txt', 'x');
      await storage.delete('trash/x.txt');
      expect(await storage.size('trash/x.txt')).toBeNull();
      await storage.delete('trash/x.txt');
      await storage.delete('never/was.txt');
      await expect(storage.read('trash/x.txt')).rejects.toBeInstanceOf(NotFoundError);
    });

    test('appender: appends accumulate, and a reopened appender continues at the length', async () => {
      const storage = await makeStorage();
      const appender = await storage.openAppender('log/p0/00000000000000000001.ndjson');
      expect(appender.length).toBe(0);
      await appender.append(Buffer.from('{"sequence":1}\n'));
      await appender.append(Buffer.from('{"sequence":2}\n'));
      await appender.append(Buffer.alloc(0));
      expect(appender.length).toBe(30);
      expect((await storage.read('log/p0/00000000000000000001.ndjson')).toString()).toBe('{"sequence":1}\n{"sequence":2}\n');
      await appender.close();

      const reopened = await storage.openAppender('log/p0/00000000000000000001.ndjson');
      expect(reopened.length).toBe(30);
      await reopened.append(Buffer.from('{"sequence":3}\n'));
      expect(reopened.length).toBe(45);
      await reopened.close();
      expect((await storage.read('log/p0/00000000000000000001.ndjson')).toString()).toBe('{"sequence":1}\n{"sequence":2}\n{"sequence":3}\n');
      expect(await storage.size('log/p0/00000000000000000001.ndjson')).toBe(45);
    });

    test('appender on an existing file starts at its end', async () => {
      const storage = await makeStorage();
      await storage.replace('log/existing.ndjson', 'a\n');
      const appender = await storage.openAppender('log/existing.ndjson');
      expect(appender.length).toBe(2);
      await appender.append(Buffer.from('b\n'));
      await appender.close();
      expect((await storage.read('log/existing.ndjson')).toString()).toBe('a\nb\n');
    });

    test('truncate cuts a torn tail; appending goes on from the cut', async () => {
      const storage = await makeStorage();
      await storage.replace('log/torn.ndjson', '{"ok":1}\n{"ok":2}\n{"tor');
      await storage.truncate('log/torn.ndjson', 18);
      expect((await storage.read('log/torn.ndjson')).toString()).toBe('{"ok":1}\n{"ok":2}\n');
      expect(await storage.size('log/torn.ndjson')).toBe(18);
      const appender = await storage.openAppender('log/torn.ndjson');
      expect(appender.length).toBe(18);
      await appender.append(Buffer.from('{"ok":3}\n'));
      await appender.close();
      expect((await storage.read('log/torn.ndjson')).toString()).toBe('{"ok":1}\n{"ok":2}\n{"ok":3}\n');
      await storage.truncate('log/torn.ndjson', 0);
      expect(await storage.size('log/torn.ndjson')).toBe(0);
    });

    test('localPath gives a local file with the same bytes as read(), and follows replacements', async () => {
      const storage = await makeStorage();
      const bytes = randomBytes(200_000);
      await storage.replace('tables/t/part-0.parquet', bytes);
      const local = await storage.localPath('tables/t/part-0.parquet');
      expect((await fs.readFile(local)).equals(await storage.read('tables/t/part-0.parquet'))).toBe(true);
      expect((await fs.readFile(await storage.localPath('tables/t/part-0.parquet'))).equals(bytes)).toBe(true);

      await storage.replace('tables/t/part-0.parquet', 'replaced');
      expect(await fs.readFile(await storage.localPath('tables/t/part-0.parquet'), 'utf8')).toBe('replaced');
    });

    test('upload: a local file round-trips, may overwrite, and may be empty', async () => {
      const storage = await makeStorage();
      const folder = await fs.mkdtemp(path.join(os.tmpdir(), 'eventlake-upload-'));
      try {
        const bytes = randomBytes(1_500_000);
        await fs.writeFile(path.join(folder, 'part.parquet'), bytes);
        await storage.upload(path.join(folder, 'part.parquet'), 'tables/orders/part-1.parquet');
        expect((await storage.read('tables/orders/part-1.parquet')).equals(bytes)).toBe(true);
        expect(await storage.size('tables/orders/part-1.parquet')).toBe(bytes.length);

        await fs.writeFile(path.join(folder, 'part.parquet'), 'second');
        await storage.upload(path.join(folder, 'part.parquet'), 'tables/orders/part-1.parquet');
        expect((await storage.read('tables/orders/part-1.parquet')).toString()).toBe('second');

        await fs.writeFile(path.join(folder, 'empty'), '');
        await storage.upload(path.join(folder, 'empty'), 'tables/orders/empty.bin');
        expect(await storage.size('tables/orders/empty.bin')).toBe(0);
      } finally {
        await fs.rm(folder, { recursive: true, force: true });
      }
    });
  });
}
