/** Base64 without Node's Buffer (browsers and Node alike). @module */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Encodes bytes. */
export function toBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i] as number;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    const v = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += ALPHABET[(v >> 18) & 63]! + ALPHABET[(v >> 12) & 63]! + (b === undefined ? '=' : ALPHABET[(v >> 6) & 63]!) + (c === undefined ? '=' : ALPHABET[v & 63]!);
  }
  return out;
}

/** Decodes; throws on characters outside the alphabet. */
export function fromBase64(s: string): Uint8Array {
  const clean = s.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let o = 0;
  for (let i = 0; i < clean.length; i += 4) {
    let v = 0;
    let cnt = 0;
    for (let j = 0; j < 4; j++) {
      const ch = clean[i + j];
      if (ch === undefined) {
        v <<= 6;
        continue;
      }
      const idx = ALPHABET.indexOf(ch);
      if (idx < 0) throw new Error(`invalid base64 character '${ch}'`);
      v = (v << 6) | idx;
      cnt++;
    }
    if (cnt >= 2) out[o++] = (v >> 16) & 255;
    if (cnt >= 3) out[o++] = (v >> 8) & 255;
    if (cnt >= 4) out[o++] = v & 255;
  }
  return out.subarray(0, o);
}
