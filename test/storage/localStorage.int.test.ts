/** The LakeStorage contract against the embedded default: a folder on the local disk. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { LocalStorage } from '../../lake/storage/localStorage.js';
import { describeLakeStorageContract } from './lakeStorage.contract.js';

const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) fs.rmSync(folder, { recursive: true, force: true });
});

describeLakeStorageContract('local folder', async () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'eventlake-storage-'));
  folders.push(folder);
  return new LocalStorage(folder);
});
