/**
 * The checkpoint container: a versioned binary format with a CRC-32 over everything after the checksum.
 *
 * ```
 * 0   "IFNGDCKP"          magic (8 bytes)
 * 8   u32 version         (little-endian; currently 1)
 * 12  u32 crc32           of bytes 16..end
 * 16  u32 H               header length
 * 20  header              UTF-8 JSON, padded with spaces to a multiple of 8 bytes
 * …   blob                float32 / float64 arrays, little-endian, 8-byte aligned
 * ```
 * Plain values (numbers, strings, booleans, null, arrays, objects) live in the JSON; typed arrays are
 * references `{"$f32": [offset, length]}` into the blob, so float values round-trip bit for bit.
 * @module
 */
import { crc32 } from './crc32.js';
import { CheckpointError } from './errors.js';

const MAGIC = 'IFNGDCKP';
/** Current checkpoint format version. */
export const CHECKPOINT_VERSION = 1;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const p = Object.getPrototypeOf(v) as unknown;
  return p === Object.prototype || p === null;
}

/** Encodes a plain value into a checkpoint. */
export function encodeCheckpoint(value: unknown): Uint8Array {
  const chunks: { bytes: Uint8Array; offset: number }[] = [];
  let blobSize = 0;
  const addArray = (a: Float32Array | Float64Array): [number, number] => {
    const offset = blobSize;
    const bytes = new Uint8Array(a.byteLength);
    const view = new DataView(bytes.buffer);
    if (a instanceof Float32Array) a.forEach((x, i) => view.setFloat32(i * 4, x, true));
    else a.forEach((x, i) => view.setFloat64(i * 8, x, true));
    chunks.push({ bytes, offset });
    blobSize += Math.ceil(a.byteLength / 8) * 8;
    return [offset, a.length];
  };
  const enc = (v: unknown, path: string): Json => {
    if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
    if (typeof v === 'number') return Number.isFinite(v) ? v : { $num: String(v) };
    if (v instanceof Float32Array) return { $f32: addArray(v) };
    if (v instanceof Float64Array) return { $f64: addArray(v) };
    if (Array.isArray(v)) return v.map((x, i) => enc(x, `${path}[${i}]`));
    if (isPlainObject(v)) {
      const out: Record<string, Json> = {};
      for (const [k, x] of Object.entries(v)) {
        if (x === undefined) continue;
        out[k.startsWith('$') ? `$$${k}` : k] = enc(x, `${path}.${k}`);
      }
      return out;
    }
    throw new TypeError(`checkpoint: cannot encode ${path} (${Object.prototype.toString.call(v)})`);
  };
  const header = new TextEncoder().encode(JSON.stringify(enc(value, '$')));
  const headerPadded = Math.ceil((20 + header.length) / 8) * 8 - 20;
  const total = 20 + headerPadded + blobSize;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) out[i] = MAGIC.charCodeAt(i);
  view.setUint32(8, CHECKPOINT_VERSION, true);
  view.setUint32(16, headerPadded, true);
  out.set(header, 20);
  out.fill(0x20, 20 + header.length, 20 + headerPadded);
  const blob0 = 20 + headerPadded;
  for (const c of chunks) out.set(c.bytes, blob0 + c.offset);
  view.setUint32(12, crc32(out.subarray(16)), true);
  return out;
}

/** Decodes and validates a checkpoint (magic, version, checksum, structure); throws {@link CheckpointError}. */
export function decodeCheckpoint(bytes: Uint8Array): unknown {
  if (!(bytes instanceof Uint8Array) || bytes.length < 20) throw new CheckpointError('CHECKPOINT_FORMAT', 'checkpoint: too short or not bytes');
  for (let i = 0; i < 8; i++) {
    if (bytes[i] !== MAGIC.charCodeAt(i)) throw new CheckpointError('CHECKPOINT_FORMAT', 'checkpoint: bad magic, not an ifngd checkpoint');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== CHECKPOINT_VERSION) {
    throw new CheckpointError('CHECKPOINT_VERSION', `checkpoint: format version ${version}, this build reads ${CHECKPOINT_VERSION}`);
  }
  const stored = view.getUint32(12, true);
  const actual = crc32(bytes.subarray(16));
  if (stored !== actual) throw new CheckpointError('CHECKPOINT_CHECKSUM', `checkpoint: checksum mismatch (stored ${stored}, computed ${actual})`);
  const h = view.getUint32(16, true);
  if (20 + h > bytes.length) throw new CheckpointError('CHECKPOINT_FORMAT', 'checkpoint: header runs past the end');
  let json: Json;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(20, 20 + h))) as Json;
  } catch (err) {
    throw new CheckpointError('CHECKPOINT_FORMAT', `checkpoint: header is not JSON (${String(err)})`);
  }
  const blob0 = 20 + h;
  const readArray = (ref: Json, bytesPer: 4 | 8): Float32Array | Float64Array => {
    if (!Array.isArray(ref) || ref.length !== 2 || !ref.every((x) => Number.isSafeInteger(x) && (x as number) >= 0)) {
      throw new CheckpointError('CHECKPOINT_FORMAT', 'checkpoint: bad array reference');
    }
    const [offset, length] = ref as [number, number];
    if (offset % 8 !== 0 || blob0 + offset + length * bytesPer > bytes.length) {
      throw new CheckpointError('CHECKPOINT_FORMAT', 'checkpoint: array reference out of range');
    }
    const out = bytesPer === 4 ? new Float32Array(length) : new Float64Array(length);
    for (let i = 0; i < length; i++) {
      out[i] = bytesPer === 4 ? view.getFloat32(blob0 + offset + i * 4, true) : view.getFloat64(blob0 + offset + i * 8, true);
    }
    return out;
  };
  const dec = (v: Json): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map(dec);
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === '$f32') return readArray(v.$f32 as Json, 4);
    if (keys.length === 1 && keys[0] === '$f64') return readArray(v.$f64 as Json, 8);
    if (keys.length === 1 && keys[0] === '$num') return Number(v.$num);
    const out: Record<string, unknown> = {};
    for (const k of keys) out[k.startsWith('$$') ? k.slice(2) : k] = dec(v[k] as Json);
    return out;
  };
  return dec(json);
}

/** FNV-1a (32-bit) of a string, as 8 hex digits. */
export function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** Whether two decoded values have the same structure: keys, array lengths, typed-array kinds and lengths. */
export function sameStructure(a: unknown, b: unknown): boolean {
  if (a instanceof Float32Array || a instanceof Float64Array) {
    return b instanceof a.constructor && (b as Float32Array).length === a.length;
  }
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameStructure(x, b[i]));
  if (isPlainObject(a)) {
    if (!isPlainObject(b)) return false;
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => sameStructure(a[k], b[k]));
  }
  return typeof a === typeof b || a === null || b === null;
}
