/**
 * Readers of the standard binary image formats, so the benchmark can run on downloaded data: IDX (MNIST,
 * Fashion-MNIST, EMNIST: `*-images-idx3-ubyte[.gz]` with `*-labels-idx1-ubyte[.gz]`) and the CIFAR binary
 * version (CIFAR-10's `data_batch_{1..5}.bin` and `test_batch.bin`, CIFAR-100's `train.bin` and `test.bin`).
 * Pixels become floats in [0, 1], row-major, channels last (`[h, w, c]` per image). gzip is detected by its magic
 * bytes. A malformed file throws {@link DataFormatError} naming the file and what is wrong.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** Images of any size with their labels: `images` holds `count` images of `shape` (`[h, w, c]`), channels last. */
export interface Images {
  readonly images: Float32Array;
  readonly labels: Int32Array;
  readonly count: number;
  readonly shape: readonly [number, number, number];
  readonly classes: number;
}

/** A file that is not what its format says. */
export class DataFormatError extends Error {
  override readonly name = 'DataFormatError';
}

function bytesOf(path: string): Uint8Array {
  if (!existsSync(path)) throw new DataFormatError(`${path}: no such file`);
  const raw = new Uint8Array(readFileSync(path));
  return raw[0] === 0x1f && raw[1] === 0x8b ? new Uint8Array(gunzipSync(raw)) : raw;
}

function header(b: Uint8Array, name: string, want: number, dims: number): number[] {
  const short = (): DataFormatError => new DataFormatError(`${name}: ${b.length} bytes, too short for an IDX header`);
  if (b.length < 4) throw short();
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const magic = v.getUint32(0);
  if (magic !== want)
    throw new DataFormatError(`${name}: IDX magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x${want.toString(16).padStart(8, '0')} (unsigned bytes, ${dims} dimension${dims > 1 ? 's' : ''})`);
  if (b.length < 4 + 4 * dims) throw short();
  return Array.from({ length: dims }, (_, i) => v.getUint32(4 + 4 * i));
}

/**
 * Images and labels from IDX bytes (gunzipped): images `0x00000803` `[count, rows, cols]` unsigned bytes, labels
 * `0x00000801` `[count]`. `classes` is one more than the largest label.
 */
export function parseIdx(images: Uint8Array, labels: Uint8Array, names: readonly [string, string] = ['images', 'labels']): Images {
  const [count, rows, cols] = header(images, names[0], 0x803, 3) as [number, number, number];
  const [n] = header(labels, names[1], 0x801, 1) as [number];
  if (n !== count) throw new DataFormatError(`${names[1]}: ${n} labels for the ${count} images of ${names[0]}`);
  const size = rows * cols;
  if (images.length !== 16 + count * size) throw new DataFormatError(`${names[0]}: ${images.length - 16} pixel bytes, expected ${count}·${rows}·${cols} = ${count * size}`);
  if (labels.length !== 8 + count) throw new DataFormatError(`${names[1]}: ${labels.length - 8} label bytes, expected ${count}`);
  const px = new Float32Array(count * size);
  for (let i = 0; i < px.length; i++) px[i] = (images[16 + i] as number) / 255;
  const lab = Int32Array.from(labels.subarray(8));
  return { images: px, labels: lab, count, shape: [rows, cols, 1], classes: lab.reduce((m, l) => Math.max(m, l), -1) + 1 };
}

/** An IDX image file and its label file (either may be gzipped). */
export function readIdx(imagesPath: string, labelsPath: string): Images {
  return parseIdx(bytesOf(imagesPath), bytesOf(labelsPath), [imagesPath, labelsPath]);
}

/** The two CIFAR variants: CIFAR-100 records carry a coarse and a fine label byte (the fine one is used). */
export type CifarVariant = 'cifar10' | 'cifar100';

const CIFAR_PIXELS = 32 * 32 * 3;

/**
 * Records of the CIFAR binary version, concatenated: each is its label byte(s) then 3,072 pixel bytes stored
 * channel-major (1,024 red, 1,024 green, 1,024 blue); they become channels-last `[32, 32, 3]` images.
 */
export function parseCifar(files: readonly Uint8Array[], variant: CifarVariant, names: readonly string[] = files.map((_, i) => `file ${i}`)): Images {
  const labelBytes = variant === 'cifar100' ? 2 : 1;
  const record = labelBytes + CIFAR_PIXELS;
  let count = 0;
  files.forEach((f, i) => {
    if (f.length === 0 || f.length % record !== 0)
      throw new DataFormatError(`${names[i]}: ${f.length} bytes is not a whole number of ${variant} records (${record} bytes each)`);
    count += f.length / record;
  });
  const images = new Float32Array(count * CIFAR_PIXELS);
  const labels = new Int32Array(count);
  let n = 0;
  for (const f of files) {
    for (let r = 0; r < f.length; r += record, n++) {
      labels[n] = f[r + labelBytes - 1] as number;
      const src = r + labelBytes;
      const dst = n * CIFAR_PIXELS;
      for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) images[dst + p * 3 + c] = (f[src + c * 1024 + p] as number) / 255;
    }
  }
  const classes = variant === 'cifar100' ? 100 : 10;
  const bad = labels.findIndex((l) => l >= classes);
  if (bad >= 0) throw new DataFormatError(`${variant} record ${bad}: label ${labels[bad]} is not below ${classes}`);
  return { images, labels, count, shape: [32, 32, 3], classes };
}

/** The binary files of a CIFAR directory as the archives unpack them, training files first. */
export function cifarFiles(variant: CifarVariant): readonly string[] {
  return variant === 'cifar10' ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`).concat('test_batch.bin') : ['train.bin', 'test.bin'];
}

/** Every record of a CIFAR binary directory (`cifar-10-batches-bin/`, `cifar-100-binary/`). */
export function readCifar(dir: string, variant: CifarVariant): Images {
  const paths = cifarFiles(variant).map((f) => join(dir, f));
  return parseCifar(paths.map(bytesOf), variant, paths);
}
