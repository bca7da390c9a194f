/**
 * SimpleRNN, LSTM and GRU, unrolled over time as tfjs-layers runs them (zero initial state, `goBackwards`
 * reverses the time axis first, `returnSequences` stacks the outputs in processing order). Each time step taps
 * two `dense` sites — `x_t·W (+ b)` and `h_{t−1}·U` — so W and U are weights shared over time steps: their
 * per-sample gradients sum over steps (positions), exactly. GRU multiplies U's last third by `r∘h_{t−1}`: that is
 * a second full site `(r∘h_{t−1})·U` of which only the last third is used (Δ is zero elsewhere), so the group's
 * per-sample gradient is still exact. Kronecker blocks for KFAC: W (with the bias) and U.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { UnsupportedLayerError } from '../errors.js';
import type { Tap } from '../model.js';
import { checkNoExtras, weightByRole } from './common.js';
import type { LayerBlock, LayerLike } from './types.js';

type Act = (z: Tensor) => Tensor;

function activation(cell: unknown, field: string, layer: LayerLike): Act {
  const fn = (cell as Record<string, { apply?: (x: Tensor) => Tensor } | undefined>)[field];
  if (!fn || typeof fn.apply !== 'function') throw new UnsupportedLayerError(layer.name, layer.getClassName(), `its ${field} is not accessible`);
  return (z) => (fn.apply as (x: Tensor) => Tensor).call(fn, z);
}

/** One step of a cell given x_t·W + b (`zx`) and the tapped recurrent product; returns h (and c). */
type Cell = (zx: Tensor, h: Tensor, c: Tensor | null, recurrent: (input: Tensor) => Tensor) => { h: Tensor; c: Tensor | null };

function cellOf(cls: string, cell: unknown, layer: LayerLike, units: number): Cell {
  const act = activation(cell, 'activation', layer);
  if (cls === 'SimpleRNN') return (zx, h, _c, rec) => ({ h: act(tf.add(zx, rec(h))), c: null });
  const recAct = activation(cell, 'recurrentActivation', layer);
  if (cls === 'LSTM') {
    return (zx, h, c, rec) => {
      const z = tf.add(zx, rec(h));
      const [z0, z1, z2, z3] = tf.split(z, 4, 1) as [Tensor, Tensor, Tensor, Tensor];
      const next = tf.add(tf.mul(recAct(z1), c as Tensor), tf.mul(recAct(z0), act(z2)));
      return { h: tf.mul(recAct(z3), act(next)), c: next };
    };
  }
  return (zx, h, _c, rec) => {
    const [xz, xr, xh] = tf.split(zx, 3, 1) as [Tensor, Tensor, Tensor];
    const [rz, rr] = tf.split(tf.slice(rec(h), [0, 0], [-1, 2 * units]), 2, 1) as [Tensor, Tensor];
    const z = recAct(tf.add(xz, rz));
    const r = recAct(tf.add(xr, rr));
    const rh = tf.slice(rec(tf.mul(r, h)), [0, 2 * units], [-1, units]);
    const hh = act(tf.add(xh, rh));
    return { h: tf.add(tf.mul(z, h), tf.mul(tf.sub(1, z), hh)), c: null };
  };
}

/** The SimpleRNN / LSTM / GRU block. */
export const recurrentBlock: LayerBlock = {
  classNames: ['SimpleRNN', 'LSTM', 'GRU'],
  compile(layer, ctx) {
    const cls = layer.getClassName();
    const cfg = layer.getConfig();
    checkNoExtras(layer, ['kernelRegularizer', 'recurrentRegularizer', 'biasRegularizer', 'activityRegularizer', 'kernelConstraint', 'recurrentConstraint', 'biasConstraint']);
    const refuse = (why: string): never => {
      throw new UnsupportedLayerError(layer.name, cls, why);
    };
    if (cfg['stateful'] === true) refuse('stateful: state carried across batches is not supported; use stateful: false');
    if (cfg['returnState'] === true) refuse('returnState: a layer with several outputs is not supported; use returnState: false');
    for (const k of ['dropout', 'recurrentDropout']) {
      if (typeof cfg[k] === 'number' && (cfg[k] as number) > 0) refuse(`${k} ${String(cfg[k])}: per-step dropout masks are not supported; put a Dropout layer before or after the recurrent layer`);
    }
    const cell = (layer as unknown as { cell?: LayerLike }).cell;
    if (!cell) return refuse('its cell is not accessible');
    const w = weightByRole(cell, 'kernel');
    const u = weightByRole(cell, 'recurrentKernel');
    if (!w || !u) return refuse('has no kernel / recurrentKernel');
    const b: Variable | null = cfg['useBias'] === false ? null : (weightByRole(cell, 'bias')?.variable ?? null);
    const units = u.variable.shape[0] as number;
    ctx.param(w.variable, `${layer.name}/kernel`);
    ctx.param(u.variable, `${layer.name}/recurrent_kernel`);
    if (b) ctx.param(b, `${layer.name}/bias`);
    ctx.kronecker({ kernel: w.variable, bias: b });
    ctx.kronecker({ kernel: u.variable, bias: null });
    const step = cellOf(cls, cell, layer, units);
    const backwards = cfg['goBackwards'] === true;
    const sequences = cfg['returnSequences'] === true;
    return {
      foldable: null,
      apply([x], tap: Tap) {
        const input = x as Tensor;
        const [n, steps] = input.shape as [number, number, number];
        const W = w.variable;
        const U = u.variable;
        const rec = (h: Tensor): Tensor => tap.dense(tf.matMul(h as tf.Tensor2D, U as tf.Tensor2D), h, { kernel: U, bias: null });
        let h: Tensor = tf.zeros([n, units]);
        let c: Tensor | null = cls === 'LSTM' ? tf.zeros([n, units]) : null;
        const outs: Tensor[] = [];
        for (let k = 0; k < steps; k++) {
          const t = backwards ? steps - 1 - k : k;
          const xt = tf.reshape(tf.slice(input, [0, t, 0], [n, 1, -1]), [n, -1]);
          const z0 = tf.matMul(xt as tf.Tensor2D, W as tf.Tensor2D);
          const zx = tap.dense(b ? tf.add(z0, b) : z0, xt, { kernel: W, bias: b });
          ({ h, c } = step(zx, h, c, rec));
          if (sequences) outs.push(h);
        }
        return [sequences ? tf.stack(outs, 1) : h];
      },
    };
  },
};
