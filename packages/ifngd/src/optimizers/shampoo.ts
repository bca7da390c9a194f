/**
 * Shampoo as Meta's `DistributedShampoo` runs it with Adam grafting, on one device. A trainer's matrix layer is a
 * matrix as stored (`[in, out]` or `[out, in]`; a convolution's kernel `(kh·kw·in) × out`); any other leaf is a
 * vector (the reference would give a 2-D embedding two factors: the trainers name no other leaf's shape). Each is cut
 * into blocks of at most `blockSize` along each side. Per block, with `G` the gradient's block and t the step from 1:
 * - statistics from the raw gradient, `L ← β₂L + (1−β₂)GGᵀ`, `R ← β₂R + (1−β₂)GᵀG` (a one-column block: `L`
 *   alone; β₂ = 1 sums them, AdaGrad's);
 * - at step `startPreconditioningStep` and then at every multiple of `preconditionFrequency`, the roots
 *   `(L/(1−β₂ᵗ) + εI)^(−1/p)` and the same of `R` (bias-corrected; a negative least eigenvalue shifts them all up,
 *   as the reference does) from a float64 symmetric eigendecomposition, `p` = 2 × the leaf's order (4 for a
 *   matrix, 2 for a vector) or `exponentOverride`;
 * - the first moment `m ← β₁m + (1−β₁)g`, `m̂ = m/(1−β₁ᵗ)` (the reference's gradient filter), the grafted Adam
 *   direction `a = m̂/(√v̂ + ε_graft)`, and from `startPreconditioningStep` on the Shampoo direction
 *   `L^(−1/p) M̂ R^(−1/p)` scaled to `a`'s norm block by block (`a` itself before);
 * - decoupled weight decay `s + wd·θ`, then momentum (optionally Nesterov), then `θ ← θ − lr·s`.
 * The statistics are products on the linear-algebra device (a one-column block's on the host), stored in float32 as
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
import { scaleByAdam } from '../transforms/adam.js';

/** The Adam rule whose step norm Shampoo's direction takes (grafting). */
export interface ShampooGraftingOptions {
  /** Second-moment decay; default 0.999. */
  readonly beta2?: number;
  /** Added to √v̂; default 1e-8. */
  readonly epsilon?: number;
}

/**
 * Options of the `'shampoo'` optimizer. Defaults: β, ε and grafting as the reference's AdamW example, blocks of 1024 (its
 * constructor's), roots every 100 steps (its examples'), no momentum and no weight decay (its constructor's).
 */
export interface ShampooOptions extends HostOptimizerOptions {
  /** Default 0.001 (the grafted Adam's). */
  readonly learningRate?: number | Schedule;
  /** The gradient filter's decay β₁ ∈ [0, 1); default 0.9. */
  readonly beta1?: number;
  /** The statistics' decay β₂ ∈ (0, 1] (1: sums, as AdaGrad); default 0.999. */
  readonly beta2?: number;
  /** Added to the (bias-corrected) statistics' eigenvalues before the root; default 1e-12. */
  readonly epsilon?: number;
  /** Momentum on the search direction, in [0, 1); default 0. */
  readonly momentum?: number;
  /** Nesterov momentum (needs momentum > 0); default false. */
  readonly nesterov?: boolean;
  /** Decoupled weight decay ≥ 0; default 0. */
  readonly weightDecay?: number;
  /** The largest block side (the reference's `max_preconditioner_dim`); default 1024. */
  readonly blockSize?: number;
  /** Steps between root computations (at its multiples after the start); default 100. */
  readonly preconditionFrequency?: number;
  /** The first step (counted from 1) that computes and uses the roots (before it, the grafted Adam step); default `preconditionFrequency`. */
  readonly startPreconditioningStep?: number;
  /** The root `p` of every factor; default 2 × the leaf's order (4 for a matrix, 2 for a vector). */
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
  /** The step (from 1) of the last root computation, −1 before the first. */
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
  /** 2 for a matrix, 1 for a vector: every block's root is 2 × this (a matrix's one-column edge block too). */
  readonly order: 1 | 2;
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
    views.set(leaf, { rows, cols, order: cols === 1 ? 1 : 2, blocks });
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
    this.#held.delete(key);
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

/**
 * Runs device work: `fn` registers the matrices it makes with `keep` and the reads it starts with `wait`. The matrices
 * are released only once every read has settled (a failed one, or `fn` throwing half-way, included); then the first
 * failure is rethrown.
 */
async function onDevice(fn: (keep: (m: Matrix) => Matrix, wait: (p: Promise<void>) => void) => void): Promise<void> {
  const live: Matrix[] = [];
  const pending: Promise<void>[] = [];
  let thrown: { error: unknown } | null = null;
  try {
    fn(
      (m) => (live.push(m), m),
      (p) => void pending.push(p),
    );
  } catch (error) {
    thrown = { error };
  }
  try {
    const settled = await Promise.allSettled(pending);
    if (thrown) throw thrown.error;
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  } finally {
    for (const m of live) m.dispose();
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
    const start = numberOption(o, 'startPreconditioningStep', every, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1', kind);
    const exponent = o['exponentOverride'] === undefined ? null : numberOption(o, 'exponentOverride', 0, (v) => v > 0 && Number.isFinite(v), 'finite and > 0', kind);
    const gr = (o['grafting'] ?? {}) as Record<string, unknown>;
    checkObject(gr, 'shampoo: grafting');
    checkKeys(gr, ['beta2', 'epsilon'], 'shampoo: grafting');
    const gBeta2 = numberOption(gr, 'beta2', 0.999, (v) => v >= 0 && v < 1, 'in [0, 1)', 'shampoo: grafting');
    const gEps = numberOption(gr, 'epsilon', 1e-8, (v) => v > 0 && Number.isFinite(v), 'finite and > 0', 'shampoo: grafting');
    const moments = scaleByAdam({ beta1, beta2: gBeta2, epsilon: gEps }, 'shampoo: grafting');

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
          const t = state.count + 1; // the reference's step, from 1
          const dev = env.device;
          // first moment (the filtered gradient) and the grafted Adam direction, by leaf: Adam's moments (their m
          // is the reference's filtered gradient), m̂ = m/(1−β₁ᵗ) preconditioned below
          const adam = moments.update(grads, { count: state.count, mu: state.mu, nu: state.nu }, params, {});
          const { mu, nu } = adam.state;
          const graft = adam.updates;
          const c1 = 1 - beta1 ** t;
          const mHat = Object.fromEntries(Object.entries(mu).map(([k, m]) => [k, m.map((x) => x / c1)]));
          // the statistics from the raw gradient: two-sided blocks' GGᵀ and GᵀG on the device, one-column blocks'
          // ggᵀ on the host (new arrays: the state is committed by the trainer, never changed here)
          const blocks: Record<string, ShampooBlockState[]> = {};
          await onDevice((keep, wait) => {
            for (const [k, view] of v) {
              const g = grads[k] as Float32Array;
              const out: ShampooBlockState[] = [];
              blocks[k] = out;
              view.blocks.forEach((b, bi) => {
                const old = (state.blocks[k] as readonly ShampooBlockState[])[bi] as ShampooBlockState;
                const gb = take(g, view, b);
                out[bi] = old;
                if (b.c === 1) {
                  const outer = new Float64Array(b.r * b.r);
                  for (let i = 0; i < b.r; i++) for (let j = 0; j < b.r; j++) outer[i * b.r + j] = (gb[i] as number) * (gb[j] as number);
                  out[bi] = { ...old, left: blend(old.left, outer, beta2) };
                  return;
                }
                const gm = keep(dev.matrix(gb, [b.r, b.c]));
                const ggt = keep(dev.gemm(gm, gm, { transB: true }));
                const gtg = keep(dev.gemm(gm, gm, { transA: true }));
                wait(
                  Promise.all([dev.read(ggt), dev.read(gtg)]).then(([l, r]) => {
                    out[bi] = { ...old, left: blend(old.left, l, beta2), right: blend(old.right, r, beta2) };
                  }),
                );
              });
            }
          });
          // the roots of the bias-corrected statistics: at the start step, then every preconditionFrequency steps
          const due = t === start || (t > start && t % every === 0);
          const rootsAt = due ? t : state.rootsAt;
          if (due) {
            const correction = beta2 === 1 ? 1 : 1 / (1 - beta2 ** t);
            for (const [k, list] of Object.entries(blocks)) {
              const view = v.get(k) as LeafView;
              const p = exponent ?? 2 * view.order;
              list.forEach((s, i) => {
                const b = view.blocks[i] as Block;
                list[i] = {
                  ...s,
                  leftRoot: Float32Array.from(inverseRoot(s.left, b.r, p, epsilon, correction)),
                  rightRoot: b.c === 1 ? s.rightRoot : Float32Array.from(inverseRoot(s.right, b.c, p, epsilon, correction)),
                };
              });
            }
          }
          // the direction: Shampoo's scaled to the grafted norm block by block, or the grafted step before start
          const dir: Record<string, ArrayLike<number>> = {};
          if (t < start) {
            Object.assign(dir, graft);
          } else {
            await onDevice((keep, wait) => {
              for (const [k, view] of v) {
                const d = new Float64Array((grads[k] as Float32Array).length);
                dir[k] = d;
                view.blocks.forEach((b, bi) => {
                  const s = (blocks[k] as ShampooBlockState[])[bi] as ShampooBlockState;
                  const mb = take(mHat[k] as Float32Array, view, b);
                  const target = norm(take(graft[k] as Float32Array, view, b));
                  const finish = (pre: ArrayLike<number>) => {
                    const n = norm(pre);
                    put(d, pre, view, b, n > 0 ? target / n : 0);
                  };
                  if (b.c === 1) {
                    // one column: L's root alone (a matrix's 1 × 1 R only scales, and grafting sets the scale)
                    const pre = new Float64Array(b.r);
                    for (let i = 0; i < b.r; i++) {
                      let acc = 0;
                      for (let j = 0; j < b.r; j++) acc += (s.leftRoot[i * b.r + j] as number) * (mb[j] as number);
                      pre[i] = acc;
                    }
                    finish(pre);
                    return;
                  }
                  const mm = keep(dev.matrix(mb, [b.r, b.c]));
                  const lm = keep(dev.gemm(roots.get(`${k}/${bi}/L`, s.leftRoot, b.r), mm));
                  const pre = keep(dev.gemm(lm, roots.get(`${k}/${bi}/R`, s.rightRoot, b.c)));
                  wait(dev.read(pre).then(finish));
                });
              }
            });
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
