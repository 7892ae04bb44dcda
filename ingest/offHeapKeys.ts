/** Entries live in fixed blocks, so growing never copies them nor leaves a doubled array half empty. */
const BLOCK_BITS = 16;
const BLOCK_SIZE = 1 << BLOCK_BITS;
/**
 * Key bytes live in arena chunks (64 KiB doubling up to 16 MiB; a longer key gets a chunk of its
 * own); a key never spans two chunks.
 */
const FIRST_CHUNK = 64 * 1024;
const CHUNK_LIMIT = 1 << 24;
/**
 * Keys are stored as UTF-8, except keys holding lone surrogates (JSON can carry them), which UTF-8
 * would turn into U+FFFD and so confuse: those are stored as UTF-16, marked in the length's low bit.
 */
const UTF16_FLAG = 1;
/** Grow the slot table past this load; linear probing stays short below it. */
const MAX_LOAD = 0.75;

interface KeyBlock {
  /** Where the key's bytes start: chunk * CHUNK_LIMIT + offset in the chunk. */
  location: Float64Array;
  /** Byte length * 2, plus UTF16_FLAG for a key stored as UTF-16. */
  length: Uint32Array;
}

/**
 * A set of strings held off the JavaScript heap, each numbered densely in the order added: the
 * keys' bytes in an arena, found through an open-addressing table of (hash, index + 1) pairs.
 * About 30 bytes per key plus its length, where a Map costs ~100 bytes of objects the garbage
 * collector traces again at every major GC (millions of command ids and aggregate ids at 10M
 * commands). Exact: a hash match is confirmed by comparing the bytes.
 */
export class OffHeapKeys {
  private readonly blocks: KeyBlock[] = [];
  private readonly chunks: Buffer[] = [];
  private chunkUsed = 0;
  private slots = new Int32Array(2 * 1024);
  private count = 0;
  private scratch = Buffer.allocUnsafe(1024);

  get size(): number {
    return this.count;
  }

  /** The key's index, or -1 when it was never added. */
  indexOf(key: string): number {
    const hash = hashOf(key);
    const mask = (this.slots.length >>> 1) - 1;
    let encoded = -1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const index = this.slots[2 * slot + 1] - 1;
      if (index < 0) return -1;
      if (this.slots[2 * slot] !== hash) continue;
      if (this.sameAscii(index, key)) return index;
      // Not plain ASCII (or not equal): compare the encoded bytes.
      if (encoded === -1) {
        encoded = encodedLength(key);
        if (this.scratch.length < encoded >>> 1) this.scratch = Buffer.allocUnsafe(encoded >>> 1);
        this.scratch.write(key, 0, encoded & UTF16_FLAG ? 'utf16le' : 'utf8');
      }
      if (this.sameBytes(index, encoded)) return index;
    }
  }

  /** Adds a key that is not in the set yet; returns its index (the count before). */
  add(key: string): number {
    const tagged = encodedLength(key);
    if (this.count + 1 > (this.slots.length >>> 1) * MAX_LOAD) this.growSlots();
    const index = this.count++;
    if ((index & (BLOCK_SIZE - 1)) === 0) this.blocks.push({ location: new Float64Array(BLOCK_SIZE), length: new Uint32Array(BLOCK_SIZE) });
    this.storeKey(index, key, tagged);
    this.insertSlot(hashOf(key), index);
    return index;
  }

  keyAt(index: number): string {
    const block = this.blocks[index >>> BLOCK_BITS];
    const location = block.location[index & (BLOCK_SIZE - 1)];
    const tagged = block.length[index & (BLOCK_SIZE - 1)];
    const start = location % CHUNK_LIMIT;
    return this.chunks[Math.floor(location / CHUNK_LIMIT)].toString(tagged & UTF16_FLAG ? 'utf16le' : 'utf8', start, start + (tagged >>> 1));
  }

  /** Whether the stored key is `key`, for the common case of an ASCII key (no encoding needed). */
  private sameAscii(index: number, key: string): boolean {
    const block = this.blocks[index >>> BLOCK_BITS];
    if (block.length[index & (BLOCK_SIZE - 1)] !== key.length * 2) return false;
    const location = block.location[index & (BLOCK_SIZE - 1)];
    const chunk = this.chunks[Math.floor(location / CHUNK_LIMIT)];
    const start = location % CHUNK_LIMIT;
    for (let i = 0; i < key.length; i++) {
      const code = key.charCodeAt(i);
      if (code >= 0x80 || chunk[start + i] !== code) return false;
    }
    return true;
  }

  private sameBytes(index: number, tagged: number): boolean {
    const block = this.blocks[index >>> BLOCK_BITS];
    if (block.length[index & (BLOCK_SIZE - 1)] !== tagged) return false;
    const bytes = tagged >>> 1;
    const location = block.location[index & (BLOCK_SIZE - 1)];
    const start = location % CHUNK_LIMIT;
    return this.chunks[Math.floor(location / CHUNK_LIMIT)].compare(this.scratch, 0, bytes, start, start + bytes) === 0;
  }

  private storeKey(index: number, key: string, tagged: number): void {
    const bytes = tagged >>> 1;
    const current = this.chunks.at(-1);
    if (!current || this.chunkUsed + bytes > current.length) {
      const size = current ? Math.min(CHUNK_LIMIT, current.length * 2) : FIRST_CHUNK;
      this.chunks.push(Buffer.allocUnsafe(Math.max(size, bytes)));
      this.chunkUsed = 0;
    }
    const chunkIndex = this.chunks.length - 1;
    this.chunks[chunkIndex].write(key, this.chunkUsed, tagged & UTF16_FLAG ? 'utf16le' : 'utf8');
    const block = this.blocks[index >>> BLOCK_BITS];
    block.location[index & (BLOCK_SIZE - 1)] = chunkIndex * CHUNK_LIMIT + this.chunkUsed;
    block.length[index & (BLOCK_SIZE - 1)] = tagged;
    this.chunkUsed += bytes;
  }

  private insertSlot(hash: number, index: number): void {
    const mask = (this.slots.length >>> 1) - 1;
    let slot = hash & mask;
    while (this.slots[2 * slot + 1] !== 0) slot = (slot + 1) & mask;
    this.slots[2 * slot] = hash;
    this.slots[2 * slot + 1] = index + 1;
  }

  private growSlots(): void {
    const old = this.slots;
    this.slots = new Int32Array(old.length * 2);
    for (let i = 0; i < old.length; i += 2) if (old[i + 1] !== 0) this.insertSlot(old[i], old[i + 1] - 1);
  }
}

/** The key's stored byte length * 2, plus UTF16_FLAG when it holds a lone surrogate. */
function encodedLength(key: string): number {
  const wellFormed = (key as unknown as { isWellFormed(): boolean }).isWellFormed();
  return wellFormed ? Buffer.byteLength(key, 'utf8') * 2 : key.length * 4 + UTF16_FLAG;
}

/** FNV-1a over UTF-16 code units, then a final mix so that the low bits (the slot) spread well. */
function hashOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  return hash | 0;
}
