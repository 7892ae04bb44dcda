import { BUILT_IN_REJECTION_CODES, type RejectionCode } from './envelope.js';
import { OffHeapKeys } from './offHeapKeys.js';

/** The first outcome of a command id, kept to answer a repeat of it. */
export interface CommandMemo {
  sequence: number;
  status: 'completed' | 'rejected';
  code: RejectionCode | null;
}

/** Outcome byte: 0 = completed, 255 = rejected without a code, else 1 + the code's index in `codes`. */
const KNOWN_CODES: readonly RejectionCode[] = BUILT_IN_REJECTION_CODES;
const REJECTED_WITHOUT_CODE = 255;

/**
 * Every command id the ingester has seen with its first outcome, for deduplication, in about 30
 * bytes plus the id's length, off the JS heap. A Map of strings and memo objects cost ~200 bytes
 * per id: the ingest process reached 5.8 GiB at 10M commands, and every major GC traced them all.
 */
export class CommandIdStore {
  private readonly ids = new OffHeapKeys();
  private outcomes: Uint8Array = new Uint8Array(1024);
  /**
   * Entry n is normally the command log's record n + 1 (every record is added, in log order), so
   * sequences are not stored; only an entry that breaks the rule keeps its own here.
   */
  private readonly irregularSequences = new Map<number, number>();
  /** Rejection codes by outcome byte; a custom domain's own codes are added as they appear. */
  private readonly codes: string[] = [...KNOWN_CODES];

  get size(): number {
    return this.ids.size;
  }

  get(commandId: string): CommandMemo | undefined {
    const entry = this.ids.indexOf(commandId);
    return entry < 0 ? undefined : this.memo(entry);
  }

  /** Remembers an id's outcome; an id already known is updated in place (as Map.set would). */
  set(commandId: string, memo: CommandMemo): void {
    let entry = this.ids.indexOf(commandId);
    if (entry < 0) {
      entry = this.ids.add(commandId);
      if (entry === this.outcomes.length) this.outcomes = grown(this.outcomes);
    }
    if (memo.sequence === entry + 1) this.irregularSequences.delete(entry);
    else this.irregularSequences.set(entry, memo.sequence);
    this.outcomes[entry] = this.outcomeByte(memo);
  }

  /** Every id with its outcome, in the order first seen (for the write-model snapshot). */
  *entries(): IterableIterator<[string, CommandMemo]> {
    for (let entry = 0; entry < this.ids.size; entry++) yield [this.ids.keyAt(entry), this.memo(entry)];
  }

  private memo(entry: number): CommandMemo {
    const outcome = this.outcomes[entry];
    const sequence = this.irregularSequences.get(entry) ?? entry + 1;
    if (outcome === 0) return { sequence, status: 'completed', code: null };
    const code = outcome === REJECTED_WITHOUT_CODE ? null : (this.codes[outcome - 1] as RejectionCode);
    return { sequence, status: 'rejected', code };
  }

  private outcomeByte(memo: CommandMemo): number {
    if (memo.status === 'completed') return 0;
    if (memo.code === null) return REJECTED_WITHOUT_CODE;
    let index = this.codes.indexOf(memo.code);
    if (index < 0) {
      if (this.codes.length >= REJECTED_WITHOUT_CODE - 1) throw new Error(`more than ${REJECTED_WITHOUT_CODE - 2} distinct rejection codes`);
      index = this.codes.push(memo.code) - 1;
    }
    return index + 1;
  }
}

function grown(array: Uint8Array): Uint8Array {
  const larger = new Uint8Array(array.length * 2);
  larger.set(array);
  return larger;
}
