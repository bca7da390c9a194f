/** Small random test models, one per op family, built with the package's own protobuf writer. */
import type { ModelSpec } from '../src/internal.js';
import { rng } from './reference.js';

export interface TestModel {
  name: string;
  spec: ModelSpec;
  loss: 'softmax-cross-entropy' | 'mse';
  input: { name: string; dims: number[] };
  /** Output dims per sample. */
  out: number[];
}

function init(r: (s?: number) => number, name: string, dims: number[], scale = 0.5) {
  return { name, dims, data: Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r(scale)) };
}

export function testModels(seed = 7): TestModel[] {
  const r = rng(seed);
  return [
    {
      name: 'Gemm(transB, alpha, beta) + Tanh + Gemm → softmax CE',
      loss: 'softmax-cross-entropy',
      input: { name: 'x', dims: [4] },
      out: [3],
      spec: {
        inputs: [{ name: 'x', shape: ['N', 4] }],
        outputs: ['y'],
        nodes: [
          { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h'], attrs: { transB: { i: 1 }, alpha: { f: 0.7 }, beta: { f: 1.3 } } },
          { op: 'Tanh', inputs: ['h'], outputs: ['t'] },
          { op: 'Gemm', inputs: ['t', 'w2', 'b2'], outputs: ['y'] },
        ],
        initializers: [init(r, 'w1', [5, 4]), init(r, 'b1', [5]), init(r, 'w2', [5, 3]), init(r, 'b2', [1, 3])],
      },
    },
    {
      name: 'MatMul+Add + Sigmoid + MatMul+Add, Sub constant, Mul by a trainable [1,2] scale → MSE',
      loss: 'mse',
      input: { name: 'x', dims: [3] },
      out: [2],
      spec: {
        inputs: [{ name: 'x', shape: ['N', 3] }],
        outputs: ['y'],
        nodes: [
          { op: 'MatMul', inputs: ['x', 'w1'], outputs: ['m1'] },
          { op: 'Add', inputs: ['m1', 'b1'], outputs: ['z1'] },
          { op: 'Sigmoid', inputs: ['z1'], outputs: ['s1'] },
          { op: 'MatMul', inputs: ['s1', 'w2'], outputs: ['m2'] },
          { op: 'Add', inputs: ['b2', 'm2'], outputs: ['z2'] },
          { op: 'Sub', inputs: ['z2', 'c'], outputs: ['d'] },
          { op: 'Mul', inputs: ['d', 'k'], outputs: ['y'] },
        ],
        initializers: [init(r, 'w1', [3, 4], 1), init(r, 'b1', [4]), init(r, 'w2', [4, 2], 1), init(r, 'b2', [2]), init(r, 'c', [2]), init(r, 'k', [1, 2], 2)],
      },
    },
    {
      name: 'Reshape + MatMul+Add + Relu + Gemm + Softmax → CE (fused)',
      loss: 'softmax-cross-entropy',
      input: { name: 'x', dims: [2, 3] },
      out: [3],
      spec: {
        inputs: [{ name: 'x', shape: ['N', 2, 3] }],
        outputs: ['p'],
        nodes: [
          { op: 'Reshape', inputs: ['x', 'shape'], outputs: ['f'] },
          { op: 'MatMul', inputs: ['f', 'w1'], outputs: ['m1'] },
          { op: 'Add', inputs: ['m1', 'b1'], outputs: ['z1'] },
          { op: 'Relu', inputs: ['z1'], outputs: ['h'] },
          { op: 'Gemm', inputs: ['h', 'w2'], outputs: ['z2'] },
          { op: 'Softmax', inputs: ['z2'], outputs: ['p'], attrs: { axis: { i: -1 } } },
        ],
        initializers: [{ name: 'shape', dims: [2], data: [0, 6], type: 'int64' }, init(r, 'w1', [6, 5], 1), init(r, 'b1', [5]), init(r, 'w2', [5, 3], 1)],
      },
    },
    {
      name: 'Flatten + Gemm + Identity + Softmax + Gemm + LogSoftmax → CE',
      loss: 'softmax-cross-entropy',
      input: { name: 'x', dims: [2, 3] },
      out: [3],
      spec: {
        inputs: [{ name: 'x', shape: ['N', 2, 3] }],
        outputs: ['lp'],
        nodes: [
          { op: 'Flatten', inputs: ['x'], outputs: ['f'] },
          { op: 'Gemm', inputs: ['f', 'w1', 'b1'], outputs: ['z1'] },
          { op: 'Identity', inputs: ['z1'], outputs: ['i1'] },
          { op: 'Softmax', inputs: ['i1'], outputs: ['s1'], attrs: { axis: { i: 1 } } },
          { op: 'Gemm', inputs: ['s1', 'w2', 'b2'], outputs: ['z2'] },
          { op: 'LogSoftmax', inputs: ['z2'], outputs: ['lp'] },
        ],
        initializers: [init(r, 'w1', [6, 4], 1), init(r, 'b1', [4]), init(r, 'w2', [4, 3], 2), init(r, 'b2', [3])],
      },
    },
    {
      name: 'Conv + Tanh + Conv(stride 2, pad 1) + Relu + MaxPool(overlapping) + Flatten + Gemm → CE',
      loss: 'softmax-cross-entropy',
      input: { name: 'x', dims: [2, 8, 8] },
      out: [3],
      spec: {
        inputs: [{ name: 'x', shape: ['N', 2, 8, 8] }],
        outputs: ['y'],
        nodes: [
          { op: 'Conv', inputs: ['x', 'k1', 'c1'], outputs: ['a1'], attrs: { pads: { ints: [1, 1, 1, 1] } } },
          { op: 'Tanh', inputs: ['a1'], outputs: ['t1'] },
          { op: 'Conv', inputs: ['t1', 'k2', 'c2'], outputs: ['a2'], attrs: { strides: { ints: [2, 2] }, pads: { ints: [1, 1, 1, 1] } } },
          { op: 'Relu', inputs: ['a2'], outputs: ['r2'] },
          { op: 'MaxPool', inputs: ['r2'], outputs: ['p2'], attrs: { kernel_shape: { ints: [2, 2] } } },
          { op: 'Flatten', inputs: ['p2'], outputs: ['f'] },
          { op: 'Gemm', inputs: ['f', 'w', 'b'], outputs: ['y'] },
        ],
        initializers: [init(r, 'k1', [3, 2, 3, 3]), init(r, 'c1', [3]), init(r, 'k2', [4, 3, 3, 3]), init(r, 'c2', [4]), init(r, 'w', [36, 3]), init(r, 'b', [3])],
      },
    },
    {
      name: 'Conv(SAME_UPPER) + Sigmoid + AveragePool(pad, exclude pad) + GlobalAveragePool + MatMul+Add → MSE',
      loss: 'mse',
      input: { name: 'x', dims: [2, 6, 6] },
      out: [2],
      spec: {
        inputs: [{ name: 'x', shape: ['N', 2, 6, 6] }],
        outputs: ['y'],
        nodes: [
          { op: 'Conv', inputs: ['x', 'k1', 'c1'], outputs: ['a1'], attrs: { auto_pad: { s: 'SAME_UPPER' }, kernel_shape: { ints: [3, 3] } } },
          { op: 'Sigmoid', inputs: ['a1'], outputs: ['s1'] },
          { op: 'AveragePool', inputs: ['s1'], outputs: ['p1'], attrs: { kernel_shape: { ints: [3, 3] }, strides: { ints: [2, 2] }, pads: { ints: [1, 1, 1, 1] } } },
          { op: 'Conv', inputs: ['p1', 'k2'], outputs: ['a2'], attrs: { dilations: { ints: [2, 2] } } },
          { op: 'GlobalAveragePool', inputs: ['a2'], outputs: ['g'] },
          { op: 'Flatten', inputs: ['g'], outputs: ['f'] },
          { op: 'MatMul', inputs: ['f', 'w'], outputs: ['m'] },
          { op: 'Add', inputs: ['m', 'b'], outputs: ['y'] },
        ],
        initializers: [init(r, 'k1', [3, 2, 3, 3], 1), init(r, 'c1', [3]), init(r, 'k2', [4, 3, 2, 2], 1), init(r, 'w', [4, 2], 1), init(r, 'b', [2])],
      },
    },
    {
      name: 'Conv + AveragePool(count_include_pad) + Reshape + Gemm → CE',
      loss: 'softmax-cross-entropy',
      input: { name: 'x', dims: [1, 5, 5] },
      out: [3],
      spec: {
        inputs: [{ name: 'x', shape: ['N', 1, 5, 5] }],
        outputs: ['y'],
        nodes: [
          { op: 'Conv', inputs: ['x', 'k1', 'c1'], outputs: ['a1'] },
          { op: 'AveragePool', inputs: ['a1'], outputs: ['p1'], attrs: { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] }, pads: { ints: [1, 1, 0, 0] }, count_include_pad: { i: 1 } } },
          { op: 'Reshape', inputs: ['p1', 'shape'], outputs: ['f'] },
          { op: 'Gemm', inputs: ['f', 'w', 'b'], outputs: ['y'] },
        ],
        initializers: [init(r, 'k1', [2, 1, 2, 2], 1), init(r, 'c1', [2]), { name: 'shape', dims: [2], data: [-1, 8], type: 'int64' }, init(r, 'w', [8, 3], 1), init(r, 'b', [3])],
      },
    },
    {
      name: 'Conv + Relu, x.view(x.size(0), -1) as exported (Shape, Gather, Unsqueeze, Concat) + Gemm → CE',
      loss: 'softmax-cross-entropy',
      input: { name: 'x', dims: [1, 4, 4] },
      out: [3],
      spec: {
        inputs: [{ name: 'x', shape: ['N', 1, 4, 4] }],
        outputs: ['y'],
        nodes: [
          { op: 'Conv', inputs: ['x', 'cw', 'cb'], outputs: ['c'], attrs: { kernel_shape: { ints: [3, 3] } } },
          { op: 'Relu', inputs: ['c'], outputs: ['h'] },
          { op: 'Shape', inputs: ['h'], outputs: ['sh'] },
          { op: 'Gather', inputs: ['sh', 'zero'], outputs: ['n'], attrs: { axis: { i: 0 } } },
          { op: 'Unsqueeze', inputs: ['n', 'ax0'], outputs: ['n1'] },
          { op: 'Concat', inputs: ['n1', 'minus1'], outputs: ['target'], attrs: { axis: { i: 0 } } },
          { op: 'Reshape', inputs: ['h', 'target'], outputs: ['f'] },
          { op: 'Gemm', inputs: ['f', 'w', 'b'], outputs: ['y'] },
        ],
        initializers: [
          init(r, 'cw', [2, 1, 3, 3], 1),
          init(r, 'cb', [2]),
          { name: 'zero', dims: [], data: [0], type: 'int64' },
          { name: 'ax0', dims: [1], data: [0], type: 'int64' },
          { name: 'minus1', dims: [1], data: [-1], type: 'int64' },
          init(r, 'w', [8, 3], 1),
          init(r, 'b', [3]),
        ],
      },
    },
    {
      name: 'Unsqueeze, Concat (axis 1), Cast, Squeeze of activations; Shape + Slice + Gather shape arithmetic → MSE',
      loss: 'mse',
      input: { name: 'x', dims: [4] },
      out: [3],
      spec: {
        inputs: [{ name: 'x', shape: ['N', 4] }],
        outputs: ['y'],
        nodes: [
          { op: 'MatMul', inputs: ['x', 'w1'], outputs: ['m'] },
          { op: 'Tanh', inputs: ['m'], outputs: ['t'] },
          { op: 'Sigmoid', inputs: ['m'], outputs: ['s'] },
          { op: 'Unsqueeze', inputs: ['t', 'ax1'], outputs: ['u1'] },
          { op: 'Unsqueeze', inputs: ['s', 'ax1'], outputs: ['u2'] },
          { op: 'Concat', inputs: ['u1', 'u2', 'u1'], outputs: ['c'], attrs: { axis: { i: 1 } } },
          { op: 'Cast', inputs: ['c'], outputs: ['cf'], attrs: { to: { i: 1 } } },
          { op: 'Shape', inputs: ['cf'], outputs: ['sh'] },
          { op: 'Gather', inputs: ['sh', 'zero'], outputs: ['n'], attrs: { axis: { i: 0 } } },
          { op: 'Unsqueeze', inputs: ['n', 'ax0'], outputs: ['n1'] },
          { op: 'Slice', inputs: ['sh', 'one', 'three'], outputs: ['tail'] },
          { op: 'Concat', inputs: ['n1', 'tail', 'ax1'], outputs: ['target'], attrs: { axis: { i: 0 } } },
          { op: 'Reshape', inputs: ['cf', 'target'], outputs: ['r4'] },
          { op: 'Squeeze', inputs: ['r4', 'ax3'], outputs: ['r3'] },
          { op: 'Flatten', inputs: ['r3'], outputs: ['f'], attrs: { axis: { i: 1 } } },
          { op: 'MatMul', inputs: ['f', 'w2'], outputs: ['y'] },
        ],
        initializers: [
          init(r, 'w1', [4, 5], 1),
          { name: 'ax0', dims: [1], data: [0], type: 'int64' },
          { name: 'ax1', dims: [1], data: [1], type: 'int64' },
          { name: 'ax3', dims: [1], data: [3], type: 'int64' },
          { name: 'zero', dims: [], data: [0], type: 'int64' },
          { name: 'one', dims: [1], data: [1], type: 'int64' },
          { name: 'three', dims: [1], data: [3], type: 'int64' },
          init(r, 'w2', [15, 3], 1),
        ],
      },
    },
    {
      name: 'LayerNorm decomposed (ReduceMean, Sub, Pow, Add, Sqrt, Div) + GELU (Div, Erf) + Neg, Exp, Log → MSE',
      loss: 'mse',
      input: { name: 'x', dims: [6] },
      out: [3],
      spec: {
        inputs: [{ name: 'x', shape: ['N', 6] }],
        outputs: ['y'],
        nodes: [
          { op: 'MatMul', inputs: ['x', 'w1'], outputs: ['m'] },
          { op: 'ReduceMean', inputs: ['m'], outputs: ['mu'], attrs: { axes: { ints: [-1] } } },
          { op: 'Sub', inputs: ['m', 'mu'], outputs: ['d'] },
          { op: 'Pow', inputs: ['d', 'two'], outputs: ['sq'] },
          { op: 'ReduceMean', inputs: ['sq'], outputs: ['var'], attrs: { axes: { ints: [-1] } } },
          { op: 'Add', inputs: ['var', 'eps'], outputs: ['ve'] },
          { op: 'Sqrt', inputs: ['ve'], outputs: ['sd'] },
          { op: 'Div', inputs: ['d', 'sd'], outputs: ['n'] },
          { op: 'Mul', inputs: ['n', 'gamma'], outputs: ['g'] },
          { op: 'Div', inputs: ['g', 'sqrt2'], outputs: ['gs'] },
          { op: 'Erf', inputs: ['gs'], outputs: ['e'] },
          { op: 'Add', inputs: ['e', 'one'], outputs: ['e1'] },
          { op: 'Mul', inputs: ['g', 'e1'], outputs: ['ge'] },
          { op: 'Mul', inputs: ['ge', 'half'], outputs: ['gelu'] },
          { op: 'Neg', inputs: ['gelu'], outputs: ['ng'] },
          { op: 'Exp', inputs: ['ng'], outputs: ['ex'] },
          { op: 'Add', inputs: ['ex', 'one'], outputs: ['ex1'] },
          { op: 'Log', inputs: ['ex1'], outputs: ['sp'] },
          { op: 'MatMul', inputs: ['sp', 'w2'], outputs: ['y'] },
        ],
        initializers: [
          init(r, 'w1', [6, 8], 1),
          { name: 'two', dims: [], data: [2] },
          { name: 'eps', dims: [], data: [1e-5] },
          init(r, 'gamma', [8], 1),
          { name: 'sqrt2', dims: [], data: [Math.SQRT2] },
          { name: 'one', dims: [], data: [1] },
          { name: 'half', dims: [], data: [0.5] },
          init(r, 'w2', [8, 3], 1),
        ],
      },
    },
    {
      name: 'Gemm + Reshape + Transpose + LeakyRelu, Elu, HardSigmoid, HardSwish, Clip + ReduceSum + MatMul → CE',
      loss: 'softmax-cross-entropy',
      input: { name: 'x', dims: [6] },
      out: [3],
      spec: {
        inputs: [{ name: 'x', shape: ['N', 6] }],
        outputs: ['y'],
        nodes: [
          { op: 'Gemm', inputs: ['x', 'w1'], outputs: ['m'] },
          { op: 'Reshape', inputs: ['m', 'shape'], outputs: ['r'] },
          { op: 'Transpose', inputs: ['r'], outputs: ['t'], attrs: { perm: { ints: [0, 2, 1] } } },
          { op: 'LeakyRelu', inputs: ['t'], outputs: ['a1'], attrs: { alpha: { f: 0.1 } } },
          { op: 'Elu', inputs: ['t'], outputs: ['a2'], attrs: { alpha: { f: 0.7 } } },
          { op: 'Add', inputs: ['a1', 'a2'], outputs: ['s'] },
          { op: 'HardSigmoid', inputs: ['s'], outputs: ['hs'], attrs: { alpha: { f: 0.3 }, beta: { f: 0.4 } } },
          { op: 'HardSwish', inputs: ['s'], outputs: ['hw'] },
          { op: 'Add', inputs: ['hs', 'hw'], outputs: ['h'] },
          { op: 'Clip', inputs: ['h', 'lo', 'hi'], outputs: ['c'] },
          { op: 'ReduceSum', inputs: ['c', 'axis2'], outputs: ['rs'], attrs: { keepdims: { i: 0 } } },
          { op: 'MatMul', inputs: ['rs', 'w2'], outputs: ['y'] },
        ],
        initializers: [
          init(r, 'w1', [6, 8], 2),
          { name: 'shape', dims: [3], data: [0, 2, 4], type: 'int64' },
          { name: 'lo', dims: [], data: [-0.2] },
          { name: 'hi', dims: [], data: [1.1] },
          { name: 'axis2', dims: [1], data: [2], type: 'int64' },
          init(r, 'w2', [4, 3], 1),
        ],
      },
    },
  ];
}
