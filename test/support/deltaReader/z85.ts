/**
 * Z85 (ZeroMQ RFC 32), the Base85 variant Delta uses for inline deletion vectors and for the UUID
 * of a deletion vector file: every 5 characters encode 4 bytes, big-endian, base 85.
 */
const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const DIGIT = new Map([...ALPHABET].map((char, value) => [char, value]));

export function decodeZ85(text: string): Uint8Array {
  if (text.length % 5 !== 0) throw new Error(`Z85: length ${text.length} of "${text}" is not a multiple of 5`);
  const bytes = new Uint8Array((text.length / 5) * 4);
  for (let block = 0; block < text.length / 5; block++) {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      const char = text[block * 5 + i];
      const digit = DIGIT.get(char);
      if (digit === undefined) throw new Error(`Z85: "${char}" at ${block * 5 + i} of "${text}" is not a Z85 character`);
      value = value * 85 + digit;
    }
    if (value > 0xffffffff) throw new Error(`Z85: block ${block} of "${text}" exceeds 32 bits`);
    new DataView(bytes.buffer).setUint32(block * 4, value, false);
  }
  return bytes;
}

/** A 20-character Z85 UUID as its canonical text (8-4-4-4-12 lower-case hex). */
export function z85Uuid(text: string): string {
  if (text.length !== 20) throw new Error(`Z85 UUID: "${text}" is not 20 characters`);
  const hex = Buffer.from(decodeZ85(text)).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
