import type { LakeLayout } from '../layout.js';
import { AlreadyExistsError, NotFoundError } from '../storage/lakeStorage.js';
import { locate } from '../storage/locations.js';

/** The log's fixed shape: how many event partitions there are. Decided once, when the lake is created. */
export interface LogMeta {
  partitions: number;
  /** Event partition streams p0..pN-1 plus the command log. */
  streams: string[];
  createdAt: string;
}

export const COMMAND_STREAM = 'commands';
export const DEFAULT_PARTITIONS = 4;

export function partitionStream(partition: number): string {
  return `p${partition}`;
}

export function partitionStreams(partitions: number): string[] {
  return Array.from({ length: partitions }, (_, i) => partitionStream(i));
}

/** Reads the lake's log meta; `create` with a partition count makes a new lake's. */
export async function readLogMeta(layout: LakeLayout): Promise<LogMeta | null> {
  const { storage, path } = locate(layout.metaFile);
  try {
    const stored = JSON.parse((await storage.read(path)).toString('utf8')) as { partitions: number; createdAt: string };
    return withStreams(stored.partitions, stored.createdAt);
  } catch (error) {
    if (error instanceof NotFoundError) return null;
    throw new Error(`cannot read ${layout.metaFile}: ${(error as Error).message}`);
  }
}

export async function openLogMeta(layout: LakeLayout, partitions = DEFAULT_PARTITIONS): Promise<LogMeta> {
  const existing = await readLogMeta(layout);
  if (existing) return existing;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 256) {
    throw new Error(`log partitions must be an integer from 1 to 256, got ${partitions}`);
  }
  const createdAt = new Date().toISOString();
  const { storage, path } = locate(layout.metaFile);
  try {
    await storage.createIfAbsent(path, JSON.stringify({ partitions, createdAt }));
  } catch (error) {
    if (error instanceof AlreadyExistsError) return (await readLogMeta(layout))!; // created meanwhile
    throw error;
  }
  return withStreams(partitions, createdAt);
}

function withStreams(partitions: number, createdAt: string): LogMeta {
  return { partitions, createdAt, streams: [...partitionStreams(partitions), COMMAND_STREAM] };
}

/** FNV-1a: a stable, fast string hash, so an aggregate always lands in the same partition. */
export function partitionOf(aggregateId: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < aggregateId.length; i++) {
    hash ^= aggregateId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitions;
}
