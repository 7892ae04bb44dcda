import fs from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { NotFoundError } from '../storage/lakeStorage.js';
import { isRemote, locate } from '../storage/locations.js';
import { LogHeadError, REPAIR_HINT } from './logDamage.js';

/** How far one stream (an event partition or the command log) is committed. */
export interface StreamHead {
  /** Last committed sequence (0 = empty). Sequences are 1-based and gap-free per stream. */
  sequence: number;
  /** First sequence of the segment file being appended to. */
  segment: number;
  /** Committed bytes in that segment: anything beyond is an uncommitted or torn tail. */
  offset: number;
  /** Business time (`timestamp`) of the last committed record, for lag in seconds. */
  lastTimestamp: string | null;
}

/** The log's commit point: one atomic record naming the committed end of every stream. */
export interface LogHead {
  /** Group-commit counter; the higher valid slot wins. */
  commit: number;
  committedAt: string;
  streams: Record<string, StreamHead>;
}

// Two fixed slots, written alternately (as LMDB does with its meta pages): a torn write can only
// damage the slot being written, and the other still holds the previous commit.
const SLOT_SIZE = 64 * 1024;
const HEADER = 8; // 4 bytes length + 4 bytes crc32 of the JSON

export function emptyHead(streams: string[]): LogHead {
  const entries = streams.map((s) => [s, { sequence: 0, segment: 1, offset: 0, lastTimestamp: null }]);
  return { commit: 0, committedAt: new Date(0).toISOString(), streams: Object.fromEntries(entries) };
}

function encodeSlot(head: LogHead): Buffer {
  const json = Buffer.from(JSON.stringify(head));
  if (json.length + HEADER > SLOT_SIZE) throw new Error(`log head too large (${json.length} bytes)`);
  const slot = Buffer.alloc(HEADER + json.length);
  slot.writeUInt32LE(json.length, 0);
  slot.writeUInt32LE(crc32(json), 4);
  json.copy(slot, HEADER);
  return slot;
}

function decodeSlot(buffer: Buffer): LogHead | null {
  if (buffer.length < HEADER) return null;
  const length = buffer.readUInt32LE(0);
  if (length === 0 || HEADER + length > buffer.length) return null;
  const json = buffer.subarray(HEADER, HEADER + length);
  if (crc32(json) !== buffer.readUInt32LE(4)) return null;
  try {
    return JSON.parse(json.toString('utf8')) as LogHead;
  } catch {
    return null;
  }
}

/** The newest valid head, and whether a slot holds something that is not a valid head. */
export interface HeadState {
  /** Null when the log has never committed (no head file, or an empty one). */
  head: LogHead | null;
  /**
   * A slot holds bytes but no valid head: a head write torn by a power cut, or damage (a flipped
   * bit). Only the writer can judge which (it knows nothing is being written): when records lie
   * beyond the valid head, the damaged slot may have been the newer commit, already acknowledged.
   */
  damagedSlot: boolean;
}

/**
 * Reads the newest valid head, or null when the log has never committed. Locally the head is the
 * two-slot file; on a remote lake it is a JSON file replaced atomically (rename) at each commit.
 */
export async function readHead(location: string): Promise<LogHead | null> {
  return (await readHeadState(location)).head;
}

export async function readHeadState(location: string): Promise<HeadState> {
  const { storage, path } = locate(location);
  let data: Buffer;
  try {
    data = await storage.read(path);
  } catch (error) {
    if (error instanceof NotFoundError) return { head: null, damagedSlot: false };
    throw error;
  }
  if (isRemote(location)) return { head: data.length === 0 ? null : parseRemoteHead(location, data), damagedSlot: false };
  const regions = [data.subarray(0, SLOT_SIZE), data.subarray(SLOT_SIZE, 2 * SLOT_SIZE)];
  const slots = regions.map(decodeSlot);
  const valid = slots.filter((s): s is LogHead => s !== null);
  if (valid.length === 0) {
    if (data.length === 0) return { head: null, damagedSlot: false };
    throw new LogHeadError(`log head ${location} is corrupt: neither slot has a valid checksum; ${REPAIR_HINT}`);
  }
  const damagedSlot = slots.some((slot, i) => slot === null && !isBlank(regions[i]));
  return { head: valid.reduce((a, b) => (b.commit > a.commit ? b : a)), damagedSlot };
}

function parseRemoteHead(location: string, data: Buffer): LogHead {
  try {
    return JSON.parse(data.toString('utf8')) as LogHead;
  } catch (error) {
    throw new LogHeadError(`log head ${location} is corrupt (${(error as Error).message}); ${REPAIR_HINT}`);
  }
}

/** A slot never written: the file's hole before the first write of slot 1, or past its end. */
function isBlank(region: Buffer): boolean {
  return region.every((byte) => byte === 0);
}

/** Writes heads durably: each write is a commit point. */
export interface HeadWriter {
  write(head: LogHead): Promise<void>;
  close(): Promise<void>;
}

export async function openHeadWriter(location: string): Promise<HeadWriter> {
  const { storage, path } = locate(location);
  if (isRemote(location)) return { write: (head) => storage.replace(path, JSON.stringify(head)), close: async () => undefined };
  const file = await storage.localPath(path);
  await fs.writeFile(file, '', { flag: 'a' });
  const handle = await fs.open(file, 'r+'); // not O_APPEND, which would ignore the slot positions
  return { write: (head) => writeSlot(handle, head), close: () => handle.close() };
}

/** Durably writes `head` into the slot its commit number selects (never the one in use). */
async function writeSlot(handle: fs.FileHandle, head: LogHead): Promise<void> {
  const slot = encodeSlot(head);
  const { bytesWritten } = await handle.write(slot, 0, slot.length, (head.commit % 2) * SLOT_SIZE);
  // A short write leaves a slot whose checksum fails, so readers keep the previous commit; but
  // the commit must not count as made.
  if (bytesWritten !== slot.length) throw Object.assign(new Error('ENOSPC: short write of the log head'), { code: 'ENOSPC' });
  await handle.datasync();
}

/**
 * Replaces the whole head with one holding only `head`, atomically (log repair, with the writer's
 * lock held): the other slot is left blank, so no older commit can win over it.
 */
export async function replaceHead(location: string, head: LogHead): Promise<void> {
  const { storage, path } = locate(location);
  if (isRemote(location)) return storage.replace(path, JSON.stringify(head));
  const file = Buffer.alloc(2 * SLOT_SIZE);
  encodeSlot(head).copy(file, (head.commit % 2) * SLOT_SIZE);
  await storage.replace(path, file);
}
