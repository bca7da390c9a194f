/**
 * Shampoo as Meta's `DistributedShampoo` runs it with Adam grafting (its AdamW recipe), on one device. Every leaf is a
 * matrix — a trainer's matrix layer as stored (`[in, out]` or `[out, in]`; a convolution's kernel as
 * `(kh·kw·in) × out`), any other leaf a vector — cut into blocks of at most `blockSize` along each dimension. Per
 * block, with `G` the gradient's block:
 * - statistics `L ← β₂L + (1−β₂)GGᵀ`, `R ← β₂R + (1−β₂)GᵀG` (a vector block: `L` alone; β₂ = 1 sums them, AdaGrad's);
 * - every `preconditionFrequency` steps the roots `(L + εI)^(−1/p)`, `(R + εI)^(−1/p)` from a float64 symmetric
 *   eigendecomposition (`p` = 2 × the block's order: 4 for a matrix, 2 for a vector, or `exponentOverride`);
 * - the first moment `m ← β₁m + (1−β₁)g`, `m̂ = m/(1−β₁ᵗ)` (the reference's gradient filtering), the grafted Adam
 *   direction `a = m̂/(√v̂ + ε_graft)`, and the Shampoo direction `s = L^(−1/p) M̂ R^(−1/p)` scaled to `a`'s norm
 *   block by block (from `startPreconditioningStep` on; `a` itself before);
 * - decoupled weight decay `s + wd·θ`, then momentum (optionally Nesterov), then `θ ← θ − lr·s`.
 * The statistics are products on the linear-algebra device (a vector block's on the host), stored in float32 as
 * the reference stores them; the roots are float64 on the host.
 * @module
 */
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import { checkKeys, checkObject } from '../option-keys.js';
import type { Schedule } from '../schedule.js';
import type { HostTree } from '../tree.js';
import { InvalidArgumentError } from '../errors.js';
import type { MatrixLayer, OptimizerDefinition, OptimizerEnv } from './contract.js';
import { hostOptions, HostOptimizer, numberOption, type HostOptimizerOptions } from './host-optimizer.js';
import { inverseRoot } from './symmetric-eigen.js';

/** The Adam rule whose step norm Shampoo's direction takes (grafting). */
export interface ShampooGraftingOptions {
  /** Second-moment decay; default 0.999. */
  readonly beta2?: number;
  /** Added to √v̂; default 1e-8. */
  readonly epsilon?: number;
}

/** Options of the `'shampoo'` optimizer (defaults: the reference's AdamW recipe). */
export interface ShampooOptions extends HostOptimizerOptions {
  /** Default 0.001 (the grafted Adam's). */
  readonly learningRate?: number | Schedule;
  /** The gradient filter's decay β₁ ∈ [0, 1); default 0.9. */
  readonly beta1?: number;
  /** The statistics' decay β₂ ∈ (0, 1] (1: sums, as AdaGrad); default 0.999. */
  readonly beta2?: number;
  /** Added to the statistics' eigenvalues before the root; default 1e-12. */
  readonly epsilon?: number;
  /** Momentum on the search direction, in [0, 1); default 0. */
  readonly momentum?: number;
  /** Nesterov momentum (needs momentum > 0); default false. */
  readonly nesterov?: boolean;
  /** Decoupled weight decay ≥ 0; default 0. */
  readonly weightDecay?: number;
  /** The largest block side (the reference's `max_preconditioner_dim`); default 1024. */
  readonly blockSize?: number;
  /** Steps between root computations; default 100. */
  readonly preconditionFrequency?: number;
  /** The first step that uses the roots (before it, the grafted Adam step); default `preconditionFrequency`. */
  readonly startPreconditioningStep?: number;
  /** The root `p` of every factor; default 2 × the block's order (4 for a matrix, 2 for a vector). */
  readonly exponentOverride?: number;
  /** The grafted Adam. */
  readonly grafting?: ShampooGraftingOptions;
}

/** One block's statistics and roots (row-major, float32). */
export interface ShampooBlockState {
  readonly left: Float32Array;
  readonly right: Float32Array;
  readonly leftRoot: Float32Array;
  readonly rightRoot: Float32Array;
}

/** Shampoo's state. */
export interface ShampooState {
  /** Steps applied. */
  readonly count: number;
  /** The step of the last root computation, −1 before the first. */
  readonly rootsAt: number;
  /** The filtered gradient (first moment) by leaf. */
  readonly mu: HostTree;
  /** The grafted Adam's second moment by leaf. */
  readonly nu: HostTree;
  /** The momentum buffers by leaf (empty without momentum). */
  readonly buffers: HostTree;
  /** By leaf, its blocks in row-major block order. */
  readonly blocks: Readonly<Record<string, readonly ShampooBlockState[]>>;
}

/** A block of a leaf viewed as rows × cols: rows [r0, r0 + r), cols [c0, c0 + c); a vector block has c = cols = 1. */
interface Block {
  readonly r0: number;
  readonly r: number;
  readonly c0: number;
  readonly c: number;
}

interface LeafView {
  readonly rows: number;
  readonly cols: number;
  readonly blocks: readonly Block[];
}

/** The leaves as Shampoo sees them: matrix layers as stored, the rest as vectors; size-1 sides dropped. */
function leafViews(layers: readonly MatrixLayer[], sizes: ReadonlyMap<string, number>, blockSize: number): Map<string, LeafView> {
  const shapes = new Map<string, [number, number]>();
  for (const l of layers) {
    const size = sizes.get(l.weight);
    if (size === undefined) continue;
    if (!(l.outputs > 0) || size % l.outputs !== 0) throw new InvalidArgumentError(`shampoo: layer '${l.weight}' has ${size} values, not a multiple of its ${l.outputs} outputs`);
    const inputs = size / l.outputs;
    shapes.set(l.weight, l.layout === 'out-in' ? [l.outputs, inputs] : [inputs, l.outputs]);
  }
  const cut = (n: number): [number, number][] => {
    const out: [number, number][] = [];
    for (let s = 0; s < n; s += blockSize) out.push([s, Math.min(blockSize, n - s)]);
    return out;
  };
  const views = new Map<string, LeafView>();
  for (const [leaf, size] of sizes) {
    let [rows, cols] = shapes.get(leaf) ?? [size, 1];
    if (rows === 1) [rows, cols] = [cols, 1];
    const blocks: Block[] = [];
    for (const [r0, r] of cut(rows)) for (const [c0, c] of cols === 1 ? [[0, 1] as [number, number]] : cut(cols)) blocks.push({ r0, r, c0, c });
    views.set(leaf, { rows, cols, blocks });
  }
  return views;
}

const identity = (n: number): Float32Array => {
  const m = new Float32Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
};

/** A block of `x` (the leaf as rows × cols, row-major), r × c row-major. */
function take(x: ArrayLike<number>, view: LeafView, b: Block): Float32Array {
  const out = new Float32Array(b.r * b.c);
  for (let i = 0; i < b.r; i++) for (let j = 0; j < b.c; j++) out[i * b.c + j] = x[(b.r0 + i) * view.cols + b.c0 + j] as number;
  return out;
}

/** Writes block `b` of `into` from `x` (r × c) times `scale`. */
function put(into: Float64Array, x: ArrayLike<number>, view: LeafView, b: Block, scale: number): void {
  for (let i = 0; i < b.r; i++) for (let j = 0; j < b.c; j++) into[(b.r0 + i) * view.cols + b.c0 + j] = scale * (x[i * b.c + j] as number);
}

const norm = (x: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] as number) ** 2;
  return Math.sqrt(s);
};

/** `β·old + (1−β)·product` (β = 1: `old + product`), float32. */
function blend(old: Float32Array, product: ArrayLike<number>, beta: number): Float32Array {
  const w = beta === 1 ? 1 : 1 - beta;
  return Float32Array.from(old, (v, i) => beta * v + w * (product[i] as number));
}

/** Root matrices uploaded to the device, re-uploaded when the state's arrays change (a refresh, a restore). */
class RootCache {
  readonly #device: LinalgDevice;
  readonly #held = new Map<string, { src: Float32Array; m: Matrix }>();
  constructor(device: LinalgDevice) {
    this.#device = device;
  }
  get(key: string, src: Float32Array, n: number): Matrix {
    const h = this.#held.get(key);
    if (h && h.src === src) return h.m;
    h?.m.dispose();
    const m = this.#device.matrix(src, [n, n]);
    this.#held.set(key, { src, m });
    return m;
  }
  dispose(): void {
    for (const h of this.#held.values()) h.m.dispose();
    this.#held.clear();
  }
}

export const shampooDefinition: OptimizerDefinition<ShampooOptions> = {
  kind: 'shampoo',
  checkpointFormat: 'ifngd-shampoo',
  trees: 'host',
  create(options, envAny) {
    const env = envAny as OptimizerEnv<HostTree>;
    const kind = 'shampoo';
    const known = ['beta1', 'beta2', 'epsilon', 'momentum', 'nesterov', 'weightDecay', 'blockSize', 'preconditionFrequency', 'startPreconditioningStep', 'exponentOverride', 'grafting'];
    const shared = hostOptions(options, known, kind, 0.001);
    const o = options as Record<string, unknown>;
    const beta1 = numberOption(o, 'beta1', 0.9, (v) => v >= 0 && v < 1, 'in [0, 1)', kind);
    const beta2 = numberOption(o, 'beta2', 0.999, (v) => v > 0 && v <= 1, 'in (0, 1]', kind);
    const epsilon = numberOption(o, 'epsilon', 1e-12, (v) => v > 0 && Number.isFinite(v), 'finite and > 0', kind);
    const mom = numberOption(o, 'momentum', 0, (v) => v >= 0 && v < 1, 'in [0, 1)', kind);
    const nesterov = o['nesterov'] ?? false;
    if (typeof nesterov !== 'boolean') throw new InvalidArgumentError(`shampoo: nesterov must be a boolean, got ${String(nesterov)}`);
    if (nesterov && mom === 0) throw new InvalidArgumentError('shampoo: nesterov needs momentum > 0');
    const wd = numberOption(o, 'weightDecay', 0, (v) => v >= 0 && Number.isFinite(v), 'finite and ≥ 0', kind);
    const blockSize = numberOption(o, 'blockSize', 1024, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1', kind);
    const every = numberOption(o, 'preconditionFrequency', 100, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1', kind);
    const start = numberOption(o, 'startPreconditioningStep', every, (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0', kind);
    const exponent = o['exponentOverride'] === undefined ? null : numberOption(o, 'exponentOverride', 0, (v) => v > 0 && Number.isFinite(v), 'finite and > 0', kind);
    const gr = (o['grafting'] ?? {}) as Record<string, unknown>;
    checkObject(gr, 'shampoo: grafting');
    checkKeys(gr, ['beta2', 'epsilon'], 'shampoo: grafting');
    const gBeta2 = numberOption(gr, 'beta2', 0.999, (v) => v >= 0 && v < 1, 'in [0, 1)', 'shampoo: grafting');
    const gEps = numberOption(gr, 'epsilon', 1e-8, (v) => v > 0 && Number.isFinite(v), 'finite and > 0', 'shampoo: grafting');

    let views: Map<string, LeafView> | null = null;
    const viewsOf = (params: HostTree): Map<string, LeafView> =>
      (views ??= leafViews(env.layers, new Map(Object.entries(params).map(([k, v]) => [k, v.length])), blockSize));
    const roots = new RootCache(env.device);

    return new HostOptimizer<ShampooState>(
      kind,
      'ifngd-shampoo',
      {
        init(params) {
          const v = viewsOf(params);
          const zeros = () => Object.fromEntries(Object.entries(params).map(([k, p]) => [k, new Float32Array(p.length)]));
          const blocks = Object.fromEntries(
            [...v].map(([k, view]) => [
              k,
              view.blocks.map((b) => ({
                left: new Float32Array(b.r * b.r),
                right: new Float32Array(b.c === 1 ? 0 : b.c * b.c),
                leftRoot: identity(b.r),
                rightRoot: b.c === 1 ? new Float32Array(0) : identity(b.c),
              })),
            ]),
          );
          return { count: 0, rootsAt: -1, mu: zeros(), nu: zeros(), buffers: mom > 0 ? zeros() : {}, blocks };
        },
        async update(grads, state, params, lr) {
          const v = viewsOf(params);
          const t = state.count + 1;
          const dev = env.device;
          // first moment (the filtered gradient) and the grafted Adam direction, by leaf
          const mu: Record<string, Float32Array> = {};
          const nu: Record<string, Float32Array> = {};
          const mHat: Record<string, Float32Array> = {};
          const graft: Record<string, Float64Array> = {};
          for (const [k, g] of Object.entries(grads)) {
            const m0 = state.mu[k] as Float32Array;
            const v0 = state.nu[k] as Float32Array;
            const m = new Float32Array(g.length);
            const nv = new Float32Array(g.length);
            const mh = new Float32Array(g.length);
            const a = new Float64Array(g.length);
            const c1 = 1 - beta1 ** t;
            const c2 = 1 - gBeta2 ** t;
            for (let i = 0; i < g.length; i++) {
              const gi = g[i] as number;
              m[i] = beta1 * (m0[i] as number) + (1 - beta1) * gi;
              nv[i] = gBeta2 * (v0[i] as number) + (1 - gBeta2) * gi * gi;
              mh[i] = (m[i] as number) / c1;
              a[i] = (mh[i] as number) / (Math.sqrt((nv[i] as number) / c2) + gEps);
            }
            mu[k] = m;
            nu[k] = nv;
            mHat[k] = mh;
            graft[k] = a;
          }
          // the statistics: matrix blocks' GGᵀ and GᵀG on the device, vector blocks' ggᵀ on the host
          const live: Matrix[] = [];
          const blocks: Record<string, ShampooBlockState[]> = {};
          try {
            const pending: Promise<void>[] = [];
            for (const [k, view] of v) {
              const g = grads[k] as Float32Array;
              const out: ShampooBlockState[] = [];
              blocks[k] = out;
              view.blocks.forEach((b, bi) => {
                const old = (state.blocks[k] as readonly ShampooBlockState[])[bi] as ShampooBlockState;
                const gb = take(g, view, b);
                if (b.c === 1) {
                  const outer = new Float64Array(b.r * b.r);
                  for (let i = 0; i < b.r; i++) for (let j = 0; j < b.r; j++) outer[i * b.r + j] = (gb[i] as number) * (gb[j] as number);
                  out[bi] = { ...old, left: blend(old.left, outer, beta2) };
                  return;
                }
                const gm = dev.matrix(gb, [b.r, b.c]);
                const ggt = dev.gemm(gm, gm, { transB: true });
                const gtg = dev.gemm(gm, gm, { transA: true });
                live.push(gm, ggt, gtg);
                out[bi] = old;
                pending.push(
                  Promise.all([dev.read(ggt), dev.read(gtg)]).then(([l, r]) => {
                    out[bi] = { ...old, left: blend(old.left, l, beta2), right: blend(old.right, r, beta2) };
                  }),
                );
              });
            }
            await Promise.all(pending);
          } finally {
            for (const m of live.splice(0)) m.dispose();
          }
          // the roots, every preconditionFrequency steps (and before their first use)
          let rootsAt = state.rootsAt;
          const due = state.count >= start && (rootsAt < 0 || state.count % every === 0);
          if (due) {
            rootsAt = state.count;
            for (const list of Object.values(blocks)) {
              list.forEach((s, i) => {
                const r = Math.round(Math.sqrt(s.left.length));
                const c = s.right.length === 0 ? 1 : Math.round(Math.sqrt(s.right.length));
                const p = exponent ?? (c === 1 ? 2 : 4);
                list[i] = {
                  ...s,
                  leftRoot: Float32Array.from(inverseRoot(s.left, r, p, epsilon)),
                  rightRoot: c === 1 ? s.rightRoot : Float32Array.from(inverseRoot(s.right, c, p, epsilon)),
                };
              });
            }
          }
          // the direction: Shampoo's scaled to the grafted norm block by block, or the grafted step before start
          const dir: Record<string, Float64Array> = {};
          if (state.count < start) {
            Object.assign(dir, graft);
          } else {
            try {
              const pending: Promise<void>[] = [];
              for (const [k, view] of v) {
                const d = new Float64Array((grads[k] as Float32Array).length);
                dir[k] = d;
                view.blocks.forEach((b, bi) => {
                  const s = (blocks[k] as ShampooBlockState[])[bi] as ShampooBlockState;
                  const mb = take(mHat[k] as Float32Array, view, b);
                  const target = norm(take(graft[k] as Float64Array, view, b));
                  const finish = (pre: ArrayLike<number>) => {
                    const n = norm(pre);
                    put(d, pre, view, b, n > 0 ? target / n : 0);
                  };
                  if (b.c === 1) {
                    const pre = new Float64Array(b.r);
                    for (let i = 0; i < b.r; i++) {
                      let acc = 0;
                      for (let j = 0; j < b.r; j++) acc += (s.leftRoot[i * b.r + j] as number) * (mb[j] as number);
                      pre[i] = acc;
                    }
                    finish(pre);
                    return;
                  }
                  const mm = dev.matrix(mb, [b.r, b.c]);
                  const lm = dev.gemm(roots.get(`${k}/${bi}/L`, s.leftRoot, b.r), mm);
                  const pre = dev.gemm(lm, roots.get(`${k}/${bi}/R`, s.rightRoot, b.c));
                  live.push(mm, lm, pre);
                  pending.push(dev.read(pre).then(finish));
                });
              }
              await Promise.all(pending);
            } finally {
              for (const m of live.splice(0)) m.dispose();
            }
          }
          // decoupled weight decay, momentum, the learning rate
          const updates: Record<string, Float32Array> = {};
          const buffers: Record<string, Float32Array> = {};
          for (const [k, d] of Object.entries(dir)) {
            const p = params[k] as Float32Array;
            const u = new Float32Array(d.length);
            const b0 = mom > 0 ? (state.buffers[k] as Float32Array) : null;
            const b = mom > 0 ? new Float32Array(d.length) : null;
            for (let i = 0; i < d.length; i++) {
              let s = (d[i] as number) + wd * (p[i] as number);
              if (b && b0) {
                b[i] = mom * (b0[i] as number) + s;
                s = nesterov ? s + mom * (b[i] as number) : (b[i] as number);
              }
              u[i] = -lr * s;
            }
            updates[k] = u;
            if (b) buffers[k] = b;
          }
          return { updates, state: { count: t, rootsAt, mu, nu, buffers, blocks }, fresh: due };
        },
        dispose: () => roots.dispose(),
      },
      shared,
      env.ops,
    ) as never;
  },
};
