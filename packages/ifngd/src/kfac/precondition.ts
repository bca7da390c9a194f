/**
 * The preconditioned gradient of every layer on the device: `Vₗ = Gₗ⁻¹·∇W̄ₗ·Aₗ⁻¹` (out-in layout; in-out
 * computes its transpose `Aₗ⁻¹·∇W̄ₗᵀ·Gₗ⁻¹`), with Gₗ⁻¹, Aₗ⁻¹ the damped inverses and ∇W̄ₗ the mean-loss
 * gradient with the bias as the extra input (see `layout.ts`). Since `(G ⊗ A)·vec(X) = vec(G·X·A)` for
 * symmetric factors and row-major `vec`, this is `(G ⊗ A)⁻¹·vec(∇W̄)`: the KFAC natural-gradient block.
 * Two GEMMs per layer, `q·a·(q + a)` multiply-adds (a = p + 1), and one read of the result.
 * @module
 */
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import type { HostTree } from '../tree.js';
import { aOrder, type LayerDims } from './dims.js';
import { gather, scatter } from './layout.js';
import type { KfacLayer } from './options.js';
import { collecting, readAll } from './read.js';

/** One layer's damped inverses on the device: A⁻¹ `[a, a]`, G⁻¹ `[q, q]`. */
export interface DeviceInverses {
  readonly a: Matrix;
  readonly g: Matrix;
}

/** The preconditioned leaves of the KFAC layers and `Σₗ ⟨Vₗ, ∇W̄ₗ⟩` (float64). */
export interface Preconditioned {
  readonly leaves: Record<string, Float32Array>;
  readonly vg: number;
}

const leaf = (t: HostTree, name: string): Float32Array => t[name] as Float32Array;

/** Preconditions every layer's gradient (leaves already checked against `dims`); other leaves are not returned. */
export async function precondition(
  dev: LinalgDevice,
  grads: HostTree,
  layers: readonly Required<KfacLayer>[],
  dims: readonly LayerDims[],
  inverses: readonly DeviceInverses[],
): Promise<Preconditioned> {
  const raw = layers.map((layer, l) =>
    gather(
      layer.layout,
      dims[l] as LayerDims,
      leaf(grads, layer.weight),
      layer.bias === null ? null : leaf(grads, layer.bias),
    ),
  );
  const { result: outs, tmp } = collecting((t) =>
    layers.map((layer, l) => {
      const d = dims[l] as LayerDims;
      const inv = inverses[l] as DeviceInverses;
      const a = aOrder(d);
      const outIn = layer.layout === 'out-in';
      const x = dev.matrix(raw[l] as Float32Array, outIn ? [d.q, a] : [a, d.q]);
      t.push(x);
      const y = outIn ? dev.gemm(inv.g, x) : dev.gemm(inv.a, x);
      t.push(y);
      const v = outIn ? dev.gemm(y, inv.a) : dev.gemm(y, inv.g);
      t.push(v);
      return v;
    }),
  );
  const data = await readAll(dev, outs, tmp);
  const leaves: Record<string, Float32Array> = {};
  let vg = 0;
  layers.forEach((layer, l) => {
    const v = data[l] as Float32Array;
    const x = raw[l] as Float32Array;
    for (let i = 0; i < v.length; i++) vg += (v[i] as number) * (x[i] as number);
    const { w, b } = scatter(layer.layout, dims[l] as LayerDims, v);
    leaves[layer.weight] = w;
    if (layer.bias !== null && b) leaves[layer.bias] = b;
  });
  return { leaves, vg };
}
