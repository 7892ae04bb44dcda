/**
 * Z85 (ZeroMQ RFC 32), the Base85 variant Delta uses in deletion vector descriptors: 4 bytes
 * become 5 characters of a JSON-safe alphabet.
 *
 * Written here rather than taken from npm: the `z85` package (0.0.2) was last published in 2014,
 * has no types, and decodes characters outside the alphabet (a space, for one) as if they were
 * '0', so a damaged descriptor would read as a different UUID instead of failing.
 */

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const VALUE_OF = new Map([...ALPHABET].map((char, value) => [char, value]));

/** Z85 text of `bytes`, zero-padded to a multiple of 4 bytes (Delta's inline DVs record the real size). */
export function z85Encode(bytes: Uint8Array): string {
  const padded = new Uint8Array(Math.ceil(bytes.length / 4) * 4);
  padded.set(bytes);
  const view = new DataView(padded.buffer);
  let text = '';
  for (let offset = 0; offset < padded.length; offset += 4) {
    let value = view.getUint32(offset, false);
    const chunk = new Array<string>(5);
    for (let i = 4; i >= 0; i--) {
      chunk[i] = ALPHABET[value % 85];
      value = Math.floor(value / 85);
    }
    text += chunk.join('');
  }
  return text;
}

/** The bytes of Z85 `text`; throws (naming `what`) on a length that is not a multiple of 5 or a character outside the alphabet. */
export function z85Decode(text: string, what = 'Z85 text'): Buffer {
  if (text.length % 5 !== 0) throw new Error(`${what} is not Z85: its length ${text.length} is not a multiple of 5`);
  const bytes = Buffer.alloc((text.length / 5) * 4);
  for (let offset = 0; offset < text.length; offset += 5) {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      const digit = VALUE_OF.get(text[offset + i]);
      if (digit === undefined) throw new Error(`${what} is not Z85: character ${JSON.stringify(text[offset + i])} at ${offset + i}`);
      value = value * 85 + digit;
    }
    if (value > 0xffffffff) throw new Error(`${what} is not Z85: the group at ${offset} exceeds 32 bits`);
    bytes.writeUInt32BE(value, (offset / 5) * 4);
  }
  return bytes;
}
