import path from 'node:path';
import type { LakeStorage } from './lakeStorage.js';
import { LocalStorage } from './localStorage.js';

/**
 * A location names a file or folder anywhere eventlake keeps data: an absolute local path, or a
 * URL of a registered remote storage (`abfss://fs@account.dfs.core.windows.net/dir`). Code above
 * the storage layer passes locations around as strings and resolves them here, so a table or a
 * log stream works the same on a local disk and on ADLS.
 */
export interface Located {
  storage: LakeStorage;
  /** Path within the storage, "/"-separated, no leading slash. */
  path: string;
}

const local = new LocalStorage('/');
const remotes: { prefix: string; storage: LakeStorage }[] = [];

/** Makes `prefix` (a URL up to the storage's root, without a trailing slash) resolve to `storage`. */
export function registerStorage(prefix: string, storage: LakeStorage): void {
  const normalized = prefix.replace(/\/+$/, '');
  const existing = remotes.findIndex((r) => r.prefix === normalized);
  if (existing >= 0) remotes.splice(existing, 1);
  remotes.push({ prefix: normalized, storage });
}

export function isRemote(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location);
}

export function locate(location: string): Located {
  if (!isRemote(location)) return { storage: local, path: path.resolve(location).slice(1) };
  const remote = remotes.find((r) => location === r.prefix || location.startsWith(`${r.prefix}/`));
  if (!remote) throw new Error(`no storage is configured for ${location.replace(/\?.*$/, '')}: set the lake's credentials in the config`);
  return { storage: remote.storage, path: location.slice(remote.prefix.length).replace(/^\/+/, '') };
}

/** Joins location parts: path.join for local paths, "/" for URLs. */
export function joinLocation(base: string, ...parts: string[]): string {
  if (!isRemote(base)) return path.join(base, ...parts);
  return [base.replace(/\/+$/, ''), ...parts.map((p) => p.replace(/^\/+|\/+$/g, ''))].filter(Boolean).join('/');
}

/** The folder a location is in. */
export function parentLocation(location: string): string {
  return isRemote(location) ? location.replace(/\/[^/]*\/?$/, '') : path.dirname(location);
}

export function baseName(location: string): string {
  return isRemote(location) ? location.replace(/\/+$/, '').split('/').pop()! : path.basename(location);
}

/** The relative path of `location` under `base`, "/"-separated. */
export function relativeLocation(base: string, location: string): string {
  if (!isRemote(base)) return path.relative(base, location).split(path.sep).join('/');
  return location.slice(base.replace(/\/+$/, '').length).replace(/^\/+/, '');
}
