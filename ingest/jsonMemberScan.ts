/*
 * A validating scan of one JSON object that finds a few of its top-level members without
 * building anything: the decider pool routes a command by its id and its aggregate, and a full
 * JSON.parse on the routing thread (besides the decider's own) made that thread the bottleneck
 * of two deciders. The scan accepts only what JSON.parse accepts (RFC 8259: no comments, no
 * trailing commas, strings without raw control characters, JSON numbers), so a line it accepts
 * is one JSON.parse accepts, with the same member values (the last of duplicate keys). What it
 * cannot settle cheaply it declines (returns false), and the caller parses the line instead: a
 * top-level key with an escape (it may spell a wanted name), nesting deeper than MAX_DEPTH.
 */

/** What a wanted member's value is. */
export const ABSENT = 0;
/** A string without escapes: its text is `text.slice(start, end)` (quotes excluded). */
export const PLAIN_STRING = 1;
/** A string with escapes: `JSON.parse(text.slice(start - 1, end + 1))` decodes it. */
export const ESCAPED_STRING = 2;
/** An object: `text.slice(start, end)` is it, braces included. */
export const OBJECT = 3;
/** Anything else (number, literal, array). */
export const OTHER = 4;

const MAX_DEPTH = 64;
const IN_OBJECT = 1;
const IN_ARRAY = 2;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

/** Finds the values of some top-level members of a JSON object; one instance scans line after line. */
export class JsonMemberScan {
  /** Per wanted key (in the order given): ABSENT, PLAIN_STRING, ESCAPED_STRING, OBJECT or OTHER. */
  readonly kinds: Uint8Array;
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  private readonly containers = new Uint8Array(MAX_DEPTH + 1);
  private escaped = false;

  constructor(private readonly keys: readonly string[]) {
    this.kinds = new Uint8Array(keys.length);
    this.starts = new Int32Array(keys.length);
    this.ends = new Int32Array(keys.length);
  }

  /** The wanted member's string value (escapes decoded), or null when it is no string. */
  stringOf(text: string, key: number): string | null {
    const kind = this.kinds[key];
    if (kind === PLAIN_STRING) return text.slice(this.starts[key], this.ends[key]);
    if (kind === ESCAPED_STRING) return JSON.parse(text.slice(this.starts[key] - 1, this.ends[key] + 1)) as string;
    return null;
  }

  /**
   * Scans `text` from `from` to `to` (exclusive), which must hold one JSON object and nothing else
   * but whitespace. True: it is valid JSON and the wanted members are noted. False: invalid, or
   * declined; either way the caller falls back to JSON.parse, which decides.
   */
  scan(text: string, from = 0, to = text.length): boolean {
    this.kinds.fill(ABSENT);
    const containers = this.containers;
    let i = skipSpace(text, from, to);
    if (text.charCodeAt(i) !== OPEN_BRACE) return false;
    let depth = 0;
    let member = -1; // the wanted member whose value is next
    let openMember = -1; // the wanted member whose object or array is open at depth 2
    for (;;) {
      // A value starts at i.
      const c = text.charCodeAt(i);
      const valueOf = member;
      member = -1;
      if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (depth === MAX_DEPTH) return false;
        depth += 1;
        containers[depth] = c === OPEN_BRACE ? IN_OBJECT : IN_ARRAY;
        if (valueOf >= 0) {
          this.kinds[valueOf] = c === OPEN_BRACE ? OBJECT : OTHER;
          this.starts[valueOf] = i;
          openMember = valueOf;
        }
        i = skipSpace(text, i + 1, to);
        const close = text.charCodeAt(i);
        if (c === OPEN_BRACE && close !== CLOSE_BRACE) {
          i = this.memberName(text, i, to, depth);
          if (i < 0) return false;
          member = this.wantedAt;
          continue;
        }
        if (c === OPEN_BRACKET && close !== CLOSE_BRACKET) continue;
        // An empty container closes at once; the loop below closes it.
      } else if (c === QUOTE) {
        const end = this.stringEnd(text, i + 1, to);
        if (end < 0) return false;
        if (valueOf >= 0) {
          this.kinds[valueOf] = this.escaped ? ESCAPED_STRING : PLAIN_STRING;
          this.starts[valueOf] = i + 1;
          this.ends[valueOf] = end - 1;
        }
        i = end;
      } else {
        const end = c === MINUS || (c >= ZERO && c <= NINE) ? numberEnd(text, i, to) : literalEnd(text, i);
        if (end < 0) return false;
        if (valueOf >= 0) this.kinds[valueOf] = OTHER;
        i = end;
      }
      // After a value (or at an empty container's closing character): commas and closings.
      for (;;) {
        i = skipSpace(text, i, to);
        if (depth === 0) return i === to;
        const next = text.charCodeAt(i);
        const inObject = containers[depth] === IN_OBJECT;
        if (next === (inObject ? CLOSE_BRACE : CLOSE_BRACKET)) {
          i += 1;
          depth -= 1;
          if (depth === 1 && openMember >= 0) {
            this.ends[openMember] = i;
            openMember = -1;
          }
          continue;
        }
        if (next !== COMMA) return false;
        i = skipSpace(text, i + 1, to);
        if (inObject) {
          i = this.memberName(text, i, to, depth);
          if (i < 0) return false;
          member = this.wantedAt;
        }
        break;
      }
    }
  }

  /** Set by memberName: the wanted key just read (-1: not wanted). */
  private wantedAt = -1;

  /** Reads `"name" :` from i; returns where its value starts (-1: invalid or declined). */
  private memberName(text: string, i: number, to: number, depth: number): number {
    this.wantedAt = -1;
    if (text.charCodeAt(i) !== QUOTE) return -1;
    const end = this.stringEnd(text, i + 1, to);
    if (end < 0) return -1;
    if (depth === 1) {
      if (this.escaped) return -1; // "command\u005fid" is command_id: not worth decoding here
      const length = end - i - 2;
      for (let k = 0; k < this.keys.length; k++) {
        if (this.keys[k].length === length && text.startsWith(this.keys[k], i + 1)) this.wantedAt = k;
      }
    }
    const colon = skipSpace(text, end, to);
    if (text.charCodeAt(colon) !== COLON) return -1;
    const value = skipSpace(text, colon + 1, to);
    return value < to ? value : -1;
  }

  /** The index just past the closing quote of a string whose contents start at i (-1: invalid). */
  private stringEnd(text: string, i: number, to: number): number {
    this.escaped = false;
    while (i < to) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) return i + 1;
      if (c < 0x20) return -1;
      if (c === BACKSLASH) {
        this.escaped = true;
        const e = text.charCodeAt(i + 1);
        if (e === 0x75 /* u */) {
          if (i + 6 > to || !isHex(text.charCodeAt(i + 2)) || !isHex(text.charCodeAt(i + 3)) || !isHex(text.charCodeAt(i + 4)) || !isHex(text.charCodeAt(i + 5))) return -1;
          i += 6;
          continue;
        }
        if (e !== QUOTE && e !== BACKSLASH && e !== 0x2f && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) return -1;
        i += 2;
        continue;
      }
      i += 1;
    }
    return -1;
  }
}

function skipSpace(text: string, i: number, to: number): number {
  while (i < to) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i += 1;
  }
  return i;
}

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

function isHex(c: number): boolean {
  return (c >= ZERO && c <= NINE) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

/** The end of a JSON number starting at i: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? (-1: invalid). */
function numberEnd(text: string, i: number, to: number): number {
  if (text.charCodeAt(i) === MINUS) i += 1;
  const first = text.charCodeAt(i);
  if (first === ZERO) i += 1;
  else if (first > ZERO && first <= NINE) while (i < to && isDigit(text.charCodeAt(i))) i += 1;
  else return -1;
  if (text.charCodeAt(i) === DOT) {
    i += 1;
    if (!isDigit(text.charCodeAt(i))) return -1;
    while (i < to && isDigit(text.charCodeAt(i))) i += 1;
  }
  const e = text.charCodeAt(i);
  if (e === 0x65 || e === 0x45) {
    i += 1;
    const sign = text.charCodeAt(i);
    if (sign === PLUS || sign === MINUS) i += 1;
    if (!isDigit(text.charCodeAt(i))) return -1;
    while (i < to && isDigit(text.charCodeAt(i))) i += 1;
  }
  return i > to ? -1 : i;
}

/** The end of true, false or null at i (-1: none of them). */
function literalEnd(text: string, i: number): number {
  if (text.startsWith('true', i)) return i + 4;
  if (text.startsWith('false', i)) return i + 5;
  if (text.startsWith('null', i)) return i + 4;
  return -1;
}
