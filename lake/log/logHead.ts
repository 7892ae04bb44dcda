import fs from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { NotFoundError } from '../storage/lakeStorage.js';
import { isRemote, locate } from '../storage/locations.js';

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

/**
 * Reads the newest valid head, or null when the log has never committed. Locally the head is the
 * two-slot file; on a remote lake it is a JSON file replaced atomically (rename) at each commit.
 */
export async function readHead(location: string): Promise<LogHead | null> {
  const { storage, path } = locate(location);
  let data: Buffer;
  try {
    data = await storage.read(path);
  } catch (error) {
    if (error instanceof NotFoundError) return null;
    throw error;
  }
  if (isRemote(location)) return data.length === 0 ? null : (JSON.parse(data.toString('utf8')) as LogHead);
  const slots = [decodeSlot(data.subarray(0, SLOT_SIZE)), decodeSlot(data.subarray(SLOT_SIZE, 2 * SLOT_SIZE))];
  const valid = slots.filter((s): s is LogHead => s !== null);
  if (valid.length === 0) {
    if (data.length === 0) return null;
    throw new Error(`log head ${location} is corrupt: neither slot has a valid checksum`);
  }
  return valid.reduce((a, b) => (b.commit > a.commit ? b : a));
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
