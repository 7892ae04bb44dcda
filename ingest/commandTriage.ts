import type { CommandInput, Rejection } from './envelope.js';

/*
 * What is settled about a command before any decider sees it: whether its line is JSON within
 * the size limit, and its command id. The ingester's thread does this for every command (also
 * when decider threads decide), since duplicates are found by id in arrival order.
 */

/** A line parsed, or why it is refused (recorded without its id: it has none that can be trusted). */
export type ParsedLine = { ok: true; value: unknown } | { ok: false; rejection: Rejection };

export function parseCommandLine(text: string, maxBytes: number): ParsedLine {
  if (overByteLimit(text, maxBytes)) {
    return { ok: false, rejection: { code: 'schema', message: `command is ${Buffer.byteLength(text)} bytes, over the limit of ${maxBytes}`, path: '/' } };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, rejection: { code: 'schema', message: `not valid JSON: ${(error as Error).message}`, path: '/' } };
  }
}

/**
 * Whether the line's UTF-8 form passes `maxBytes`. A UTF-16 unit is 1 to 3 bytes in UTF-8 (a
 * surrogate pair, two units, is 4), so the length bounds the bytes both ways and most lines are
 * settled without encoding them.
 */
export function overByteLimit(text: string, maxBytes: number): boolean {
  if (text.length > maxBytes) return true;
  return 3 * text.length > maxBytes && Buffer.byteLength(text) > maxBytes;
}

/** The command's id (null: it has none, and gets a new one), or why it is no id. */
export type CommandIdOf = { ok: true; commandId: string | null } | { ok: false; rejection: Rejection };

export function commandIdOf(value: unknown): CommandIdOf {
  const commandId = typeof (value as CommandInput | null)?.command_id === 'string' ? (value as CommandInput).command_id! : null;
  // An id that is not valid Unicode cannot be logged as sent (its record would halt
  // command_status), so it is no id: the command is refused like any malformed one.
  if (commandId !== null && !commandId.isWellFormed()) {
    return { ok: false, rejection: { code: 'schema', message: 'command_id: holds a lone UTF-16 surrogate (not valid Unicode)', path: '/command_id' } };
  }
  return { ok: true, commandId };
}

export const DEFAULT_MAX_COMMAND_BYTES = 1024 * 1024;
