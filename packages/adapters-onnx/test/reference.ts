/**
 * A float64 reference interpreter for the supported ops (test-only), the losses, and central finite
 * differences over named parameters.
 */
import type { ModelSpec } from '../src/internal.js';
import { tensorFloats } from '../src/proto.js';

export interface T64 {
  data: Float64Array;
  dims: number[];
}
type Attrs = Record<string, { i: number } | { f: number } | { s: string } | { ints: readonly number[] } | { floats: readonly number[] } | { t: unknown }>;
const size = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);
const ai = (a: Attrs | undefined, k: string, d: number) => { const v = a?.[k]; return v && 'i' in v ? v.i : d; };
const af = (a: Attrs | undefined, k: string, d: number) => { const v = a?.[k]; return v && 'f' in v ? v.f : d; };
const ais = (a: Attrs | undefined, k: string, d: number[]) => { const v = a?.[k]; return v && 'ints' in v ? [...v.ints] : d; };

function bcast(a: T64, b: T64, f: (x: number, y: number) => number): T64 {
  const r = Math.max(a.dims.length, b.dims.length);
  const pa = [...Array(r - a.dims.length).fill(1), ...a.dims];
  const pb = [...Array(r - b.dims.length).fill(1), ...b.dims];
  const dims = pa.map((x, i) => Math.max(x, pb[i]!));
  const out = new Float64Array(size(dims));
  const idx = new Array(r).fill(0);
  for (let k = 0; k < out.length; k++) {
    let rem = k;
    for (let i = r - 1; i >= 0; i--) { idx[i] = rem % dims[i]!; rem = Math.floor(rem / dims[i]!); }
    let ia = 0, ib = 0;
    for (let i = 0; i < r; i++) { ia = ia * pa[i]! + (pa[i] === 1 ? 0 : idx[i]); ib = ib * pb[i]! + (pb[i] === 1 ? 0 : idx[i]); }
    out[k] = f(a.data[ia]!, b.data[ib]!);
  }
  return { data: out, dims };
}
/** MatMul of any ranks: 2-D; a batch of matrices times one matrix; two batches of equal leading dims. */
function matmul64(a: T64, b: T64): T64 {
  if (a.dims.length === 2 && b.dims.length === 2) return mm(a, b);
  const [m, k] = a.dims.slice(-2) as [number, number];
  const n = b.dims[b.dims.length - 1]!;
  const batch = size(a.dims.slice(0, -2));
  const out = new Float64Array(batch * m * n);
  for (let p = 0; p < batch; p++) {
    const A = { data: a.data.subarray(p * m * k, (p + 1) * m * k), dims: [m, k] };
    const B = b.dims.length === 2 ? b : { data: b.data.subarray(p * k * n, (p + 1) * k * n), dims: [k, n] };
    out.set(mm(A, B).data, p * m * n);
  }
  return { data: out, dims: [...a.dims.slice(0, -1), n] };
}
function mm(a: T64, b: T64, tA = false, tB = false): T64 {
  const [m, k] = tA ? [a.dims[1]!, a.dims[0]!] : [a.dims[0]!, a.dims[1]!];
  const n = tB ? b.dims[0]! : b.dims[1]!;
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let p = 0; p < k; p++) s += (tA ? a.data[p * m + i]! : a.data[i * k + p]!) * (tB ? b.data[j * k + p]! : b.data[p * n + j]!);
    out[i * n + j] = s;
  }
  return { data: out, dims: [m, n] };
}
const map = (x: T64, f: (v: number) => number): T64 => ({ data: x.data.map(f), dims: x.dims });
function softmaxLast(x: T64, log: boolean): T64 {
  const c = x.dims[x.dims.length - 1]!;
  const out = new Float64Array(x.data.length);
  for (let r = 0; r < x.data.length / c; r++) {
    const row = x.data.subarray(r * c, r * c + c);
    const mx = Math.max(...row);
    const lse = mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
    for (let j = 0; j < c; j++) out[r * c + j] = log ? row[j]! - lse : Math.exp(row[j]! - lse);
  }
  return { data: out, dims: x.dims };
}
function pads2(a: Attrs | undefined, h: number, w: number, k: number[], s: number[], d: number[]): number[] {
  const auto = a?.auto_pad && 's' in a.auto_pad ? a.auto_pad.s : 'NOTSET';
  if (auto === 'NOTSET') return ais(a, 'pads', [0, 0, 0, 0]);
  if (auto === 'VALID') return [0, 0, 0, 0];
  const p = [0, 0, 0, 0];
  [h, w].forEach((x, i) => {
    const o = Math.ceil(x / s[i]!);
    const tot = Math.max(0, (o - 1) * s[i]! + (k[i]! - 1) * d[i]! + 1 - x);
    p[i] = auto === 'SAME_UPPER' ? Math.floor(tot / 2) : tot - Math.floor(tot / 2);
    p[i + 2] = tot - p[i]!;
  });
  return p;
}
/** Generic 2-D window op over [N,C,H,W]. */
function window(x: T64, a: Attrs | undefined, kdef: number[] | null, f: (vals: number[], total: number) => number): T64 {
  const [n, c, h, w] = x.dims as [number, number, number, number];
  const k = ais(a, 'kernel_shape', kdef ?? []);
  const s = ais(a, 'strides', [1, 1]);
  const d = ais(a, 'dilations', [1, 1]);
  const p = pads2(a, h, w, k, s, d);
  const ho = Math.floor((h + p[0]! + p[2]! - ((k[0]! - 1) * d[0]! + 1)) / s[0]!) + 1;
  const wo = Math.floor((w + p[1]! + p[3]! - ((k[1]! - 1) * d[1]! + 1)) / s[1]!) + 1;
  const out = new Float64Array(n * c * ho * wo);
  for (let b = 0; b < n * c; b++) for (let i = 0; i < ho; i++) for (let j = 0; j < wo; j++) {
    const vals: number[] = [];
    for (let u = 0; u < k[0]!; u++) for (let v = 0; v < k[1]!; v++) {
      const r = i * s[0]! - p[0]! + u * d[0]!, q = j * s[1]! - p[1]! + v * d[1]!;
      if (r >= 0 && r < h && q >= 0 && q < w) vals.push(x.data[b * h * w + r * w + q]!);
    }
    out[(b * ho + i) * wo + j] = f(vals, k[0]! * k[1]!);
  }
  return { data: out, dims: [n, c, ho, wo] };
}
function conv(x: T64, wt: T64, bias: T64 | undefined, a: Attrs | undefined): T64 {
  const [n, c, h, w] = x.dims as [number, number, number, number];
  const [m, cg, kh, kw] = wt.dims as [number, number, number, number];
  const g = ai(a, 'group', 1);
  const s = ais(a, 'strides', [1, 1]);
  const d = ais(a, 'dilations', [1, 1]);
  const p = pads2(a, h, w, [kh, kw], s, d);
  const ho = Math.floor((h + p[0]! + p[2]! - ((kh - 1) * d[0]! + 1)) / s[0]!) + 1;
  const wo = Math.floor((w + p[1]! + p[3]! - ((kw - 1) * d[1]! + 1)) / s[1]!) + 1;
  const out = new Float64Array(n * m * ho * wo);
  const mg = m / g;
  for (let b = 0; b < n; b++) for (let o = 0; o < m; o++) for (let i = 0; i < ho; i++) for (let j = 0; j < wo; j++) {
    let acc = bias ? bias.data[o]! : 0;
    const grp = Math.floor(o / mg);
    for (let ci = 0; ci < cg; ci++) for (let u = 0; u < kh; u++) for (let v = 0; v < kw; v++) {
      const r = i * s[0]! - p[0]! + u * d[0]!, q = j * s[1]! - p[1]! + v * d[1]!;
      if (r < 0 || r >= h || q < 0 || q >= w) continue;
      acc += x.data[((b * c + grp * cg + ci) * h + r) * w + q]! * wt.data[((o * cg + ci) * kh + u) * kw + v]!;
    }
    out[((b * m + o) * ho + i) * wo + j] = acc;
  }
  return { data: out, dims: [n, m, ho, wo] };
}

/** erf in float64: its Maclaurin series (|x| < 4, cancellation below 1e-10), ±1 beyond (error < 2e-8). */
function erf64(x: number): number {
  if (Math.abs(x) >= 4) return Math.sign(x);
  let term = x;
  let sum = x;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

/** Reduction of `x` over `axes` (sum, or mean), keeping them as ones or dropping them. */
function reduce64(x: T64, axes: number[], keep: boolean, mean: boolean): T64 {
  const rank = x.dims.length;
  const ax = axes.map((a) => (a < 0 ? a + rank : a));
  const outDims = x.dims.map((d, i) => (ax.includes(i) ? 1 : d));
  const out = new Float64Array(size(outDims));
  const strides = x.dims.map((_, i) => size(x.dims.slice(i + 1)));
  const ostrides = outDims.map((_, i) => size(outDims.slice(i + 1)));
  for (let k = 0; k < x.data.length; k++) {
    let o = 0;
    for (let i = 0; i < rank; i++) o += (ax.includes(i) ? 0 : Math.floor(k / strides[i]!) % x.dims[i]!) * ostrides[i]!;
    out[o]! += x.data[k]!;
  }
  const count = size(x.dims) / size(outDims);
  return { data: mean ? out.map((v) => v / count) : out, dims: keep ? outDims : x.dims.filter((_, i) => !ax.includes(i)) };
}

/** `x` transposed by `perm`. */
function transpose64(x: T64, perm: number[]): T64 {
  const dims = perm.map((p) => x.dims[p]!);
  const strides = x.dims.map((_, i) => size(x.dims.slice(i + 1)));
  const out = new Float64Array(x.data.length);
  for (let k = 0; k < out.length; k++) {
    let rem = k;
    let src = 0;
    for (let i = 0; i < dims.length; i++) {
      const s = size(dims.slice(i + 1));
      src += Math.floor(rem / s) * strides[perm[i]!]!;
      rem %= s;
    }
    out[k] = x.data[src]!;
  }
  return { data: out, dims };
}

/**
 * Runs a {@link ModelSpec} in float64 with `values` overriding initializers / inputs. `copies`: private copies of
 * parameters, one per sample — a node that reads one computes sample i's output row with copy i (what "sample i's
 * share of the batch gradient" differentiates: see {@link fdShare}).
 */
export function run64(spec: ModelSpec, values: Record<string, T64>, copies: Record<string, T64[]> = {}): Record<string, T64> {
  const env: Record<string, T64> = {};
  for (const t of spec.initializers) env[t.name] = { data: Float64Array.from(t.data as ArrayLike<number>), dims: [...t.dims] };
  Object.assign(env, values);
  for (const node of spec.nodes) {
    const own = node.inputs.filter((i) => copies[i]);
    if (own.length === 0) {
      runNode(node, env);
      continue;
    }
    // row i of every output from a run with sample i's copies
    const rows = copies[own[0]!]!.map((_, i) => {
      const e: Record<string, T64> = { ...env };
      for (const name of own) e[name] = copies[name]![i]!;
      runNode(node, e);
      return e;
    });
    for (const o of node.outputs) {
      const first = rows[0]![o];
      if (!first) continue; // an output the reference does not compute (running statistics)
      const per = first.data.length / first.dims[0]!;
      const data = new Float64Array(first.data.length);
      rows.forEach((e, i) => data.set(e[o]!.data.subarray(i * per, (i + 1) * per), i * per));
      env[o] = { data, dims: first.dims };
    }
  }
  return env;
}

function runNode(node: ModelSpec['nodes'][number], env: Record<string, T64>): void {
  const ints = (n: string) => Array.from(env[n]!.data);
  {
    const a = node.attrs as Attrs | undefined;
    const x = env[node.inputs[0] ?? '']!;
    const y = env[node.inputs[1] ?? '']!;
    let r: T64;
    switch (node.op) {
      case 'Gemm': {
        let g = mm(x, y, ai(a, 'transA', 0) === 1, ai(a, 'transB', 0) === 1);
        g = map(g, (v) => v * af(a, 'alpha', 1));
        const c = node.inputs[2] ? env[node.inputs[2]] : undefined;
        r = c ? bcast(g, map(c, (v) => v * af(a, 'beta', 1)), (p, q) => p + q) : g;
        break;
      }
      case 'MatMul': r = matmul64(x, y); break;
      case 'Add': r = bcast(x, y, (p, q) => p + q); break;
      case 'Sub': r = bcast(x, y, (p, q) => p - q); break;
      case 'Mul': r = bcast(x, y, (p, q) => p * q); break;
      case 'Relu': r = map(x, (v) => Math.max(v, 0)); break;
      case 'Sigmoid': r = map(x, (v) => 1 / (1 + Math.exp(-v))); break;
      case 'Tanh': r = map(x, Math.tanh); break;
      case 'Identity': r = x; break;
      case 'Softmax': r = softmaxLast(x, false); break;
      case 'LogSoftmax': r = softmaxLast(x, true); break;
      case 'Flatten': { const ax = ai(a, 'axis', 1); r = { data: x.data, dims: [size(x.dims.slice(0, ax)), size(x.dims.slice(ax))] }; break; }
      case 'Reshape': {
        const t = ints(node.inputs[1]!).map((d, i) => (d === 0 ? x.dims[i]! : d));
        const k = t.indexOf(-1);
        if (k >= 0) t[k] = size(x.dims) / -size(t);
        r = { data: x.data, dims: t };
        break;
      }
      case 'Conv': r = conv(x, y, node.inputs[2] ? env[node.inputs[2]] : undefined, a); break;
      case 'MaxPool': r = window(x, a, null, (v) => Math.max(...v)); break;
      case 'AveragePool': r = window(x, a, null, (v, tot) => v.reduce((p, q) => p + q, 0) / (ai(a, 'count_include_pad', 0) ? tot : v.length)); break;
      case 'GlobalAveragePool': r = window(x, { kernel_shape: { ints: [x.dims[2]!, x.dims[3]!] } }, null, (v) => v.reduce((p, q) => p + q, 0) / v.length); break;
      case 'Shape': r = { data: Float64Array.from(x.dims), dims: [x.dims.length] }; break;
      case 'Gather': {
        if (x.dims.length === 2) {
          // an embedding: rows of the table
          const d = x.dims[1]!;
          const out = new Float64Array(y.data.length * d);
          y.data.forEach((id, i) => out.set(x.data.subarray(id * d, (id + 1) * d), i * d));
          r = { data: out, dims: [...y.dims, d] };
          break;
        }
        const idx = ints(node.inputs[1]!).map((i) => (i < 0 ? i + x.data.length : i));
        r = { data: Float64Array.from(idx, (i) => x.data[i]!), dims: [...y.dims] };
        break;
      }
      case 'Unsqueeze': {
        const axes = ints(node.inputs[1]!).map((v) => (v < 0 ? v + x.dims.length + 1 : v)).sort((p, q) => p - q);
        const dims = [...x.dims];
        for (const ax of axes) dims.splice(ax, 0, 1);
        r = { data: x.data, dims };
        break;
      }
      case 'Squeeze': {
        const axes = node.inputs[1] ? ints(node.inputs[1]).map((v) => (v < 0 ? v + x.dims.length : v)) : x.dims.flatMap((d, i) => (d === 1 ? [i] : []));
        r = { data: x.data, dims: x.dims.filter((_, i) => !axes.includes(i)) };
        break;
      }
      case 'Concat': {
        const parts = node.inputs.map((n) => env[n]!);
        const ax = (ai(a, 'axis', 0) + x.dims.length) % x.dims.length;
        const outer = size(x.dims.slice(0, ax));
        const inner = size(x.dims.slice(ax + 1));
        const dims = [...x.dims];
        dims[ax] = parts.reduce((t, p) => t + p.dims[ax]!, 0);
        const out: number[] = [];
        for (let o = 0; o < outer; o++) for (const p of parts) for (let j = 0; j < p.dims[ax]! * inner; j++) out.push(p.data[o * p.dims[ax]! * inner + j]!);
        r = { data: Float64Array.from(out), dims };
        break;
      }
      case 'Cast': r = x; break;
      case 'Slice': {
        if (x.dims.length > 1) {
          // a window (step 1) of an activation along the given axes
          const [st, en] = [ints(node.inputs[1]!), ints(node.inputs[2]!)];
          const axes = node.inputs[3] ? ints(node.inputs[3]).map((v) => (v < 0 ? v + x.dims.length : v)) : st.map((_, i) => i);
          const lo = x.dims.map(() => 0);
          const hi = [...x.dims];
          axes.forEach((ax, k) => {
            const n = x.dims[ax]!;
            const c = (v: number) => Math.min(n, Math.max(0, v < 0 ? v + n : v));
            [lo[ax], hi[ax]] = [c(st[k]!), c(en[k]!)];
          });
          const dims = hi.map((h, i) => h - lo[i]!);
          const out = new Float64Array(size(dims));
          for (let k = 0; k < out.length; k++) {
            let rem = k;
            let src = 0;
            for (let i = 0; i < dims.length; i++) {
              const inner = size(dims.slice(i + 1));
              src = src * x.dims[i]! + lo[i]! + Math.floor(rem / inner);
              rem %= inner;
            }
            out[k] = x.data[src]!;
          }
          r = { data: out, dims };
          break;
        }
        const [start, end] = [ints(node.inputs[1]!)[0]!, ints(node.inputs[2]!)[0]!];
        const n = x.data.length;
        const c = (v: number) => Math.min(n, Math.max(0, v < 0 ? v + n : v));
        const picked = Array.from(x.data).slice(c(start), c(end));
        r = { data: Float64Array.from(picked), dims: [picked.length] };
        break;
      }
      case 'Div': r = bcast(x, y, (p, q) => p / q); break;
      case 'Pow': r = bcast(x, y, (p, q) => p ** q); break;
      case 'Sqrt': r = map(x, Math.sqrt); break;
      case 'Exp': r = map(x, Math.exp); break;
      case 'Log': r = map(x, Math.log); break;
      case 'Neg': r = map(x, (v) => -v); break;
      case 'Erf': r = map(x, erf64); break;
      case 'LeakyRelu': { const al = af(a, 'alpha', 0.01); r = map(x, (v) => (v < 0 ? al * v : v)); break; }
      case 'Elu': { const al = af(a, 'alpha', 1); r = map(x, (v) => (v > 0 ? v : al * (Math.exp(v) - 1))); break; }
      case 'HardSigmoid': { const [al, be] = [af(a, 'alpha', 0.2), af(a, 'beta', 0.5)]; r = map(x, (v) => Math.max(0, Math.min(1, al * v + be))); break; }
      case 'HardSwish': r = map(x, (v) => v * Math.max(0, Math.min(1, v / 6 + 0.5))); break;
      case 'Clip': {
        const lo = node.inputs[1] ? env[node.inputs[1]]!.data[0]! : -Infinity;
        const hi = node.inputs[2] ? env[node.inputs[2]]!.data[0]! : Infinity;
        r = map(x, (v) => Math.min(hi, Math.max(lo, v)));
        break;
      }
      case 'ReduceSum':
      case 'ReduceMean': {
        const axes = node.inputs[1] ? ints(node.inputs[1]) : ais(a, 'axes', []);
        r = reduce64(x, axes, ai(a, 'keepdims', 1) === 1, node.op === 'ReduceMean');
        break;
      }
      case 'Transpose': r = transpose64(x, ais(a, 'perm', x.dims.map((_, i) => x.dims.length - 1 - i))); break;
      case 'Range': {
        const [s0, l0, d0] = [0, 1, 2].map((i) => ints(node.inputs[i]!)[0]!);
        const n = Math.max(0, Math.ceil((l0! - s0!) / d0!));
        r = { data: Float64Array.from({ length: n }, (_, i) => s0! + i * d0!), dims: [n] };
        break;
      }
      case 'Equal': r = bcast(x, y, (p, q) => (p === q ? 1 : 0)); break;
      case 'LayerNormalization': {
        const d = x.dims[x.dims.length - 1]!;
        const eps = af(a, 'epsilon', 1e-5);
        const z = env[node.inputs[2] ?? '']!;
        const out = new Float64Array(x.data.length);
        for (let o = 0; o < x.data.length / d; o++) {
          const row = x.data.subarray(o * d, (o + 1) * d);
          const mu = row.reduce((s, v) => s + v, 0) / d;
          const sd = Math.sqrt(row.reduce((s, v) => s + (v - mu) ** 2, 0) / d + eps);
          for (let j = 0; j < d; j++) out[o * d + j] = ((row[j]! - mu) / sd) * y.data[j]! + (z ? z.data[j]! : 0);
        }
        r = { data: out, dims: [...x.dims] };
        break;
      }
      case 'Where': {
        const z = env[node.inputs[2]!]!;
        r = bcast(bcast(x, y, (c, v) => (c ? v : 0)), bcast(x, z, (c, v) => (c ? 0 : v)), (p, q) => p + q);
        break;
      }
      case 'Expand': {
        const target = ints(node.inputs[1]!);
        r = bcast(x, { data: new Float64Array(size(target)), dims: target }, (v) => v);
        break;
      }
      case 'ConstantOfShape': {
        const t = (a?.['value'] as { t: Parameters<typeof tensorFloats>[0] } | undefined)?.t;
        const dims = ints(node.inputs[0]!);
        r = { data: new Float64Array(size(dims)).fill(t ? tensorFloats(t)[0]! : 0), dims };
        break;
      }
      case 'Split': {
        const ax = (ai(a, 'axis', 0) + x.dims.length) % x.dims.length;
        const sizes = ints(node.inputs[1]!);
        const outer = size(x.dims.slice(0, ax));
        const inner = size(x.dims.slice(ax + 1));
        let at = 0;
        sizes.forEach((len, k) => {
          const data: number[] = [];
          for (let o = 0; o < outer; o++) for (let j = 0; j < len * inner; j++) data.push(x.data[(o * x.dims[ax]! + at) * inner + j]!);
          const dims = [...x.dims];
          dims[ax] = len;
          env[node.outputs[k]!] = { data: Float64Array.from(data), dims };
          at += len;
        });
        return;
      }
      case 'Dropout': {
        // the mask the trainer fed (`ifngd/dropout/<k>/mask`, set by the caller as a value), else inference
        const mask = env[`dropout-mask:${node.outputs[0]}`];
        r = mask ? bcast(x, mask, (p, q) => p * q) : x;
        break;
      }
      case 'BatchNormalization': {
        const [c, inner] = [x.dims[1]!, size(x.dims.slice(2))];
        const n = x.dims[0]!;
        const [scale, bias, rm, rv] = [1, 2, 3, 4].map((k) => env[node.inputs[k]!]!.data);
        const eps = af(a, 'epsilon', 1e-5);
        const out = new Float64Array(x.data.length);
        for (let ch = 0; ch < c; ch++) {
          const at = (i: number, j: number) => (i * c + ch) * inner + j;
          let [mu, v] = [rm![ch]!, rv![ch]!];
          if (ai(a, 'training_mode', 0) === 1) {
            const vals: number[] = [];
            for (let i = 0; i < n; i++) for (let j = 0; j < inner; j++) vals.push(x.data[at(i, j)]!);
            mu = vals.reduce((p, q) => p + q, 0) / vals.length;
            v = vals.reduce((p, q) => p + (q - mu) ** 2, 0) / vals.length;
          }
          for (let i = 0; i < n; i++) for (let j = 0; j < inner; j++) out[at(i, j)] = ((x.data[at(i, j)]! - mu) / Math.sqrt(v + eps)) * scale![ch]! + bias![ch]!;
        }
        r = { data: out, dims: [...x.dims] };
        break;
      }
      default: throw new Error(`reference: ${node.op}`);
    }
    env[node.outputs[0]!] = r;
  }
}

/** Per-sample losses of the model output (same conventions as the adapter). */
export function losses64(spec: ModelSpec, values: Record<string, T64>, loss: 'softmax-cross-entropy' | 'mse', target: Float64Array, copies: Record<string, T64[]> = {}): number[] {
  const env = run64(spec, values, copies);
  const outName = spec.outputs[0]!;
  const out = env[outName]!;
  const n = out.dims[0]!;
  const d = out.data.length / n;
  const producer = spec.nodes.find((x) => x.outputs.includes(outName))!.op;
  const res: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = out.data.subarray(i * d, i * d + d);
    const t = target.subarray(i * d, i * d + d);
    if (loss === 'mse') res.push(row.reduce((s, v, j) => s + (v - t[j]!) ** 2, 0) / d);
    else {
      const lp = producer === 'LogSoftmax' ? Array.from(row) : producer === 'Softmax' ? Array.from(row, Math.log) : Array.from(softmaxLast({ data: row.slice(), dims: [d] }, true).data);
      res.push(-lp.reduce((s, v, j) => s + v * t[j]!, 0));
    }
  }
  return res;
}

/** Central finite differences of `f` w.r.t. every element of `params[name]` (float64). */
export function fd(params: Record<string, Float64Array>, name: string, f: (p: Record<string, Float64Array>) => number, h = 1e-6): Float64Array {
  const base = params[name]!;
  const g = new Float64Array(base.length);
  for (let k = 0; k < base.length; k++) {
    const plus = base.slice(); plus[k]! += h;
    const minus = base.slice(); minus[k]! -= h;
    g[k] = (f({ ...params, [name]: plus }) - f({ ...params, [name]: minus })) / (2 * h);
  }
  return g;
}

/** Deterministic uniform(−s, s) values. */
export function rng(seed: number): (s?: number) => number {
  let a = seed >>> 0;
  return (s = 1) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296 * 2 - 1) * s;
  };
}

/**
 * Σᵢ wᵢ·(sample i's share of the batch gradient) of `params[name]`, by central finite differences: the derivative of
 * `total` (the summed loss as a function of per-sample private copies of the parameter) when copy i moves by h·wᵢ.
 * Where samples do not interact this is Σᵢ wᵢ∇ℓᵢ; through a BatchNormalization's batch statistics it is the
 * trainer's per-sample definition.
 */
export function fdShare(params: Record<string, Float64Array>, name: string, w: ArrayLike<number>, total: (copies: Record<string, T64[]>) => number, dims: number[], h = 1e-6): Float64Array {
  const base = params[name]!;
  const g = new Float64Array(base.length);
  const at = (k: number, sign: number) =>
    Array.from(w, (wi) => {
      const d = base.slice();
      d[k]! += sign * h * wi;
      return { data: d, dims };
    });
  for (let k = 0; k < base.length; k++) g[k] = (total({ [name]: at(k, 1) }) - total({ [name]: at(k, -1) })) / (2 * h);
  return g;
}
