/**
 * The FNGD step of the trainer:
 * 1. `opt.coefficients({ batchKey, epoch, n, factors })` — on a miss/refresh/probe the `factors` callback runs
 *    the capture pass (one forward/backward of Σℓᵢ with identity hooks) and uploads A, Δ (conv: patches) to the
 *    linear-algebra device; cached batches skip it.
 * 2. The α-weighted gradient Jᵀα = Σαᵢ∇ℓᵢ: from the captured factors when there are any (no second pass);
 *    otherwise in global mode one `tf.variableGrads` of Σαᵢℓᵢ, in layer-wise mode — and for models whose samples
 *    interact (BatchNormalization), where the weighted loss would differentiate through the batch statistics —
 *    a capture pass and each site group's rule with its αₗ.
 * 3. `opt.propose(...)` on tfjs tensors (guard, clipping, momentum etc. stay on the backend; nothing is read),
 *    one awaited read of the proposal's scalars — with Σℓᵢ on cached batches, and with `trainBatch`'s target
 *    value check — then the check (`TargetError`), `opt.settle(...)` and `variable.assign`, the last thing a
 *    step does: everything that can throw (targets, losses, the optimizer's checks) comes before it.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import { fngd, type BatchKey, type Coefficients, type FngdOptimizer, type FngdProposal } from 'ifngd';
import { captureAsync, type Capture } from './capture.js';
import { AdapterArgumentError, UnsupportedModelError } from './errors.js';
import type { StepContext } from './step-context.js';
import type { TargetValueCheck } from './targets.js';
import type { BatchResult, TrainerFngdOptions } from './trainer-types.js';
import { collectTensors, disposeReleased, makeTree, tfTreeOps, type ShapeMap, type TfTree, type TfTreeOps } from './tree-ops.js';
import { addPenaltyGrads } from './penalties.js';
import { uploadFactors } from './upload.js';
import { perSampleJacobian, weightedLossGradsAsync, weightedLossGradTensors, weightedGroupGrads, wholeBatchJacobian } from './weighted-grads.js';

function disposeMap(m: Map<Variable, Tensor>, keep: ReadonlySet<Tensor> = new Set()): void {
  for (const t of m.values()) if (!keep.has(t) && !t.isDisposed) t.dispose();
}

/** The FNGD branch of the trainer: the optimizer over tfjs trees and its step over tfjs variables. */
export class FngdStep {
  /** The optimizer (tfjs parameter trees). */
  readonly optimizer: FngdOptimizer<TfTree, Tensor>;
  readonly ops: TfTreeOps;
  readonly #c: StepContext;
  readonly #device: LinalgDevice;
  readonly #exact: boolean;

  /** Creates the optimizer (`ifngd`'s option errors pass through) and starts it at the variables' values. */
  constructor(c: StepContext, device: LinalgDevice, options: TrainerFngdOptions | undefined, perSample: 'share' | 'exact' = 'share') {
    const shapes: Record<string, readonly number[]> = {};
    c.names.forEach((n, i) => (shapes[n] = (c.variables[i] as Variable).shape));
    this.ops = tfTreeOps(shapes as ShapeMap);
    this.#c = c;
    this.#device = device;
    this.#exact = perSample === 'exact';
    this.optimizer = fngd<TfTree, Tensor>({ ...(options ?? {}), device, ops: this.ops });
  }

  /** Starts the optimizer at the variables' values (an awaited read: `NonFiniteError` for NaN/±Infinity). */
  init(): Promise<void> {
    return this.optimizer.initAsync(this.params());
  }

  /** The variables as a parameter tree. */
  params(): TfTree {
    const t: Record<string, Tensor> = {};
    this.#c.names.forEach((n, i) => (t[n] = this.#c.variables[i] as Variable));
    return makeTree(t);
  }

  /** One step on a batch of `n` samples; `check`: the targets' value check to read with the step's scalars. */
  async run(x: Tensor, y: Tensor, batchKey: BatchKey, epoch: number, n: number, check: TargetValueCheck | null = null): Promise<BatchResult> {
    const { model, loss, filters } = this.#c;
    const opt = this.optimizer;
    const box: { cap: Capture | null } = { cap: null };
    const made: Matrix[] = [];
    let grads: Map<Variable, Tensor> | null = null;
    try {
      const exact = this.#exact && model.couplesSamples === true;
      const c = await opt.coefficients({
        batchKey,
        epoch,
        n,
        factors: async () => {
          if (exact) {
            const plainSet = new Set(model.plain ?? []);
            const vars = this.#c.variables.filter((v) => !plainSet.has(v));
            const j = this.#device.matrix(await wholeBatchJacobian(model, loss, x, y, vars), [n, vars.reduce((s, v) => s + v.size, 0)]);
            made.push(j);
            return [{ kind: 'jacobian', jacobian: j }];
          }
          box.cap?.dispose();
          const cap = await captureAsync(model, loss, x, y);
          box.cap = cap;
          if (model.couplesSamples === true && cap.uncovered.length > 0) {
            throw new UnsupportedModelError(
              `FNGD: the model couples samples, and ${cap.uncovered.length} variable(s) (${cap.uncovered.map((v) => v.name).slice(0, 3).join(', ')}) are at no tap site; ` +
                'their one-sample fallback passes would see other batch statistics — tap them (tap.dense, tap.conv2d, tap.site) or train with kfac',
            );
          }
          return uploadFactors(this.#device, cap, filters, () => perSampleJacobian(model, loss, x, y, cap.uncovered), made);
        },
      });
      for (const m of made.splice(0)) m.dispose();
      let lossSum: number | Tensor;
      // one block (global, or the exact route's single Jacobian), samples that do not interact: Σαᵢℓᵢ's gradient
      const plain = model.plain ?? [];
      if (!box.cap && c.layers === 1 && (model.couplesSamples !== true || exact)) {
        // a cached batch: Σℓᵢ stays on the backend and is read with the step's scalars (one read per step)
        const r = weightedLossGradTensors(model, loss, x, y, c.alpha, plain.length === 0 ? this.#c.variables : this.#c.variables.filter((v) => !plain.includes(v)));
        grads = r.grads;
        lossSum = r.lossSum;
      } else {
        const cap = box.cap ?? (await captureAsync(model, loss, x, y));
        box.cap = cap;
        lossSum = cap.lossSum;
        grads = await this.#gradsFromCapture(cap, c, x, y);
      }
      if (plain.length > 0) {
        // plain variables: weights 1/(nλ), so that their direction λ·Σᵢ∇ℓᵢ/(nλ) is the mean gradient
        for (const [v, g] of (await weightedLossGradsAsync(model, loss, x, y, new Float32Array(n).fill(1 / (n * c.damping)), plain)).grads) grads.set(v, g);
      }
      addPenaltyGrads(grads, model.penalties, 1 / c.damping); // the direction is λ·(Jᵀα + ∇R/λ)
      const mean = await this.#apply(grads, c, n, lossSum, check);
      return { loss: mean, fresh: c.fresh && !c.skipped };
    } finally {
      for (const m of made) m.dispose();
      box.cap?.dispose();
      if (grads) disposeMap(grads);
    }
  }

  async #gradsFromCapture(cap: Capture, c: Coefficients, x: Tensor, y: Tensor): Promise<Map<Variable, Tensor>> {
    const global = c.layers === 1;
    const out = new Map<Variable, Tensor>();
    try {
      cap.groups.forEach((g, l) => {
        for (const [v, t] of weightedGroupGrads(g, global ? c.alpha : c.layer(l), this.#c.filters)) out.set(v, t);
      });
      if (cap.uncovered.length > 0) {
        const w = global ? c.alpha : c.layer(cap.groups.length);
        for (const [v, g] of (await weightedLossGradsAsync(this.#c.model, this.#c.loss, x, y, w, cap.uncovered)).grads) out.set(v, g);
      }
    } catch (e) {
      disposeMap(out);
      throw e;
    }
    return out;
  }

  /**
   * Proposes the step on the backend, reads the target check's scalars, Σℓᵢ (when still a tensor) and the step's
   * scalars in one awaited read, verifies the targets (`TargetError`: nothing settles), settles, and assigns the
   * variables last. Returns the mean loss. Consumes `lossSum` when it is a tensor.
   */
  async #apply(grads: Map<Variable, Tensor>, c: Coefficients, n: number, lossSum: number | Tensor, check: TargetValueCheck | null): Promise<number> {
    const opt = this.optimizer;
    const { names, variables } = this.#c;
    let lossT = typeof lossSum === 'number' ? null : lossSum;
    const before = collectTensors(opt.state);
    let proposed = new Set<Tensor>();
    try {
      const weighted: Record<string, Tensor> = {};
      names.forEach((name, i) => {
        const g = grads.get(variables[i] as Variable);
        if (!g) throw new AdapterArgumentError(`no gradient for variable '${name}'`);
        weighted[name] = g;
      });
      const params = this.params();
      let p: FngdProposal<TfTree, Tensor> | null = null;
      tf.tidy(() => {
        p = opt.propose(makeTree(weighted), params, { coefficients: c });
        proposed = collectTensors([p.params, p.state, p.scalars]);
        return [...proposed];
      });
      const proposal = p as unknown as FngdProposal<TfTree, Tensor>;
      const probe = check ? check.take() : [];
      const read = [...probe, ...(lossT ? [lossT] : []), ...proposal.scalars];
      lossT = null; // consumed by the read (with the probe)
      const all = await this.ops.read(read);
      check?.verify(all.slice(0, probe.length)); // bad targets: TargetError before anything settles
      const values = all.slice(probe.length);
      const mean = (typeof lossSum === 'number' ? lossSum : (values[0] as number)) / n;
      const next = opt.settle(proposal, typeof lossSum === 'number' ? values : values.slice(1), { loss: mean });
      // --- commit: nothing below throws ---
      if (next !== params) names.forEach((name, i) => (variables[i] as Variable).assign(next[name] as Tensor));
      return mean;
    } finally {
      lossT?.dispose();
      const after = collectTensors(opt.state);
      disposeReleased(before, after);
      disposeReleased(proposed, after);
      for (const [v, g] of [...grads.entries()]) if (after.has(g)) grads.delete(v); // kept by the optimizer state
    }
  }

  /** Restores an `ifngd` FNGD checkpoint, releasing the state tensors it replaces. */
  restore(bytes: Uint8Array): void {
    const before = collectTensors(this.optimizer.state);
    this.optimizer.restore(bytes);
    disposeReleased(before, collectTensors(this.optimizer.state));
  }

  /** Releases the optimizer state tensors (never variables). */
  dispose(): void {
    for (const t of collectTensors(this.optimizer.state)) if (!(t instanceof tf.Variable) && !t.isDisposed) t.dispose();
  }
}
