/**
 * The MNIST MLP of the "defaults that train" test, as an ONNX model: x `[N,784]` → Gemm → Relu → … → Gemm →
 * logits. Weights are the framework-free experiments' He-normal init (`initParams`, W `[dout,din]`, so every Gemm
 * has `transB = 1`), which `packages/adapters-tfjs/experiments/defaults-sweep.ts` loads into a tfjs model to
 * measure Adam on identical weights and batches.
 */
import { initParams, type Net } from '../../ifngd/experiments/mlp.js';
import type { ModelSpec } from '../src/internal.js';

/** A ReLU MLP classifier with the given layer sizes (softmax cross-entropy on its logits). */
export function mlpNet(sizes: readonly number[]): Net {
  return { sizes, hidden: 'relu', loss: 'softmax-ce' };
}

/** The ONNX spec of `net` with `initParams(net, seed)` as initializers. */
export function mlpSpec(net: Net, seed: number): ModelSpec {
  const p = initParams(net, seed);
  const L = net.sizes.length - 1;
  const nodes: ModelSpec['nodes'][number][] = [];
  const initializers: ModelSpec['initializers'][number][] = [];
  let h = 'x';
  for (let l = 0; l < L; l++) {
    const z = l === L - 1 ? 'logits' : `z${l}`;
    nodes.push({ op: 'Gemm', inputs: [h, `W${l}`, `b${l}`], outputs: [z], attrs: { transB: { i: 1 } } });
    if (l < L - 1) nodes.push({ op: 'Relu', inputs: [z], outputs: [`a${l}`] });
    h = `a${l}`;
    initializers.push({ name: `W${l}`, dims: [net.sizes[l + 1] as number, net.sizes[l] as number], data: p[`W${l}`] as Float32Array });
    initializers.push({ name: `b${l}`, dims: [net.sizes[l + 1] as number], data: p[`b${l}`] as Float32Array });
  }
  return { inputs: [{ name: 'x', shape: ['N', net.sizes[0] as number] }], outputs: ['logits'], nodes, initializers };
}
