/**
 * 2-D window geometry shared by Conv and the pools: kernel, strides, dilations and explicit pads (auto_pad
 * resolved statically).
 * @module
 */
import { Attrs, type NodeProto } from '../proto.js';

/** Resolved 2-D window parameters. */
export interface Window2d {
  readonly kernel: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly dilations: readonly [number, number];
  /** `[top, left, bottom, right]`. */
  readonly pads: readonly [number, number, number, number];
  /** Output spatial size. */
  readonly out: readonly [number, number];
}

/** Resolves the window of a Conv / pool node over input spatial dims `[h, w]`, or returns a reason. */
export function window2d(node: NodeProto, hw: readonly [number, number], kernel: readonly [number, number] | null): Window2d | string {
  const at = new Attrs(node);
  const k = (at.ints('kernel_shape', null) ?? kernel) as number[] | null;
  if (!k || k.length !== 2) return 'a 2-D kernel_shape is required';
  const s = at.ints('strides', [1, 1])!;
  const d = at.ints('dilations', [1, 1])!;
  if (s.length !== 2 || d.length !== 2) return 'strides and dilations must be 2-D';
  if (at.int('ceil_mode', 0) !== 0) return 'ceil_mode=1 is not supported';
  const auto = at.str('auto_pad', 'NOTSET');
  let pads: number[];
  const ext = [0, 1].map((i) => (k[i]! - 1) * d[i]! + 1);
  if (auto === 'NOTSET') pads = at.ints('pads', [0, 0, 0, 0])!;
  else if (auto === 'VALID') pads = [0, 0, 0, 0];
  else if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    pads = [0, 0, 0, 0];
    for (let i = 0; i < 2; i++) {
      const o = Math.ceil(hw[i]! / s[i]!);
      const total = Math.max(0, (o - 1) * s[i]! + ext[i]! - hw[i]!);
      const small = Math.floor(total / 2);
      pads[i] = auto === 'SAME_UPPER' ? small : total - small;
      pads[i + 2] = total - pads[i]!;
    }
  } else return `auto_pad=${auto} is not supported`;
  if (pads.length !== 4) return 'pads must have 4 entries';
  const out = [0, 1].map((i) => Math.floor((hw[i]! + pads[i]! + pads[i + 2]! - ext[i]!) / s[i]!) + 1);
  if (out[0]! < 1 || out[1]! < 1) return 'the window is larger than the padded input';
  return {
    kernel: [k[0]!, k[1]!],
    strides: [s[0]!, s[1]!],
    dilations: [d[0]!, d[1]!],
    pads: [pads[0]!, pads[1]!, pads[2]!, pads[3]!],
    out: [out[0]!, out[1]!],
  };
}

/** `output_padding` that makes a ConvTranspose of the window's output return exactly `[h, w]`. */
export function outputPadding(w: Window2d, hw: readonly [number, number]): [number, number] {
  const p = [0, 1].map(
    (i) => hw[i]! - ((w.out[i]! - 1) * w.strides[i]! - w.pads[i]! - w.pads[i + 2]! + (w.kernel[i]! - 1) * w.dilations[i]! + 1),
  );
  return [p[0]!, p[1]!];
}

/** Attributes of a ConvTranspose that adjoins the window. */
export function transposeAttrs(w: Window2d, hw: readonly [number, number], group: number) {
  return {
    strides: { ints: w.strides },
    dilations: { ints: w.dilations },
    pads: { ints: w.pads },
    output_padding: { ints: outputPadding(w, hw) },
    group: { i: group },
  } as const;
}
