/**
 * A KFAC layer's dimensions, read off its factors and checked against its parameter leaves.
 * @module
 */
import type { LayerFactors } from '@ifngd/fisher';
import type { Matrix } from '@ifngd/linalg-gpu';
import { InvalidArgumentError, ShapeError } from '../errors.js';
import type { KfacLayer } from './options.js';

/** Dimensions of one layer: p inputs per position, q outputs, and whether A carries the bias column. */
export interface LayerDims {
  /** Inputs per position (dense `din`, conv `k = c_in·kh·kw`). */
  readonly p: number;
  /** Outputs (dense `dout`, conv `c_out`). */
  readonly q: number;
  readonly bias: boolean;
}

/** Order of the A factor: p, plus one for the bias column. */
export const aOrder = (d: LayerDims): number => d.p + (d.bias ? 1 : 0);

const fmt = (m: Matrix): string => `[${m.shape.join(',')}]`;

function isMatrix(m: unknown): m is Matrix {
  const s = (m as { shape?: unknown } | null | undefined)?.shape;
  return typeof m === 'object' && m !== null && Array.isArray(s);
}

/**
 * Checks one layer's factors (kind, ranks, matching samples and positions, the bias flag) and returns its
 * dimensions. Throws `InvalidArgumentError` (not dense/conv2d factors, a bias flag that contradicts the layer)
 * or `ShapeError`.
 */
export function factorDims(f: LayerFactors, layer: Required<KfacLayer>, l: number): LayerDims {
  const what = `kfac: factors[${l}]`;
  const bias = layer.bias !== null;
  const kind = (f as { kind?: unknown } | null | undefined)?.kind;
  if (kind !== 'dense' && kind !== 'conv2d') {
    throw new InvalidArgumentError(
      `${what}.kind must be 'dense' or 'conv2d' (KFAC needs layer inputs), got ${String(kind)}`,
    );
  }
  const fb = (f as { bias?: unknown }).bias;
  if (fb !== undefined && fb !== bias) {
    throw new InvalidArgumentError(
      `${what}.bias is ${String(fb)} but layer '${layer.weight}' ${bias ? 'has' : 'has no'} bias leaf`,
    );
  }
  const a = f.kind === 'dense' ? f.inputs : f.kind === 'conv2d' ? f.patches : null;
  const d = (f as { outputGrads?: unknown }).outputGrads;
  if (!isMatrix(a) || !isMatrix(d))
    throw new InvalidArgumentError(`${what}: inputs/patches and outputGrads must be linalg-gpu matrices`);
  const rank = f.kind === 'dense' ? 2 : 3;
  if (a.shape.length !== rank || d.shape.length !== rank) {
    const want = rank === 2 ? '[n, din] and [n, dout]' : '[n, T, k] and [n, T, c]';
    throw new ShapeError(`${what}: ${f.kind} factors must be ${want}, got ${fmt(a)} and ${fmt(d)}`);
  }
  if (a.batch !== d.batch || a.rows !== d.rows) {
    throw new ShapeError(`${what}: ${fmt(a)} and ${fmt(d)} must agree in samples${rank === 3 ? ' and positions' : ''}`);
  }
  return { p: a.cols, q: d.cols, bias };
}

/** Throws `ShapeError` unless the layer's leaves have p·q (weight) and q (bias) elements. */
export function checkLeaves(
  dims: LayerDims,
  layer: Required<KfacLayer>,
  size: (name: string) => number | undefined,
): void {
  const w = size(layer.weight);
  if (w !== dims.p * dims.q) {
    throw new ShapeError(
      `kfac: weight '${layer.weight}' has ${String(w)} elements, its factors need ${dims.p}·${dims.q} = ${
        dims.p * dims.q
      }`,
    );
  }
  if (layer.bias !== null && size(layer.bias) !== dims.q) {
    throw new ShapeError(
      `kfac: bias '${layer.bias}' has ${String(size(layer.bias))} elements, its factors need ${dims.q}`,
    );
  }
}

/** Whether two layer dimensions agree. */
export const sameDims = (x: LayerDims, y: LayerDims): boolean => x.p === y.p && x.q === y.q && x.bias === y.bias;
