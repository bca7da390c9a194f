/**
 * The registry of supported op types (default domain).
 * @module
 */
import { identity, logSoftmax, relu, sigmoid, softmax, tanh } from './activation.js';
import { conv } from './conv.js';
import { add, gemm, matmul, mul, sub } from './dense.js';
import { averagePool, globalAveragePool, maxPool } from './pool.js';
import { clip, div, elu, erf, exp, hardSigmoid, hardSwish, leakyRelu, log, neg, pow, reduceMean, reduceSum, sqrt, transpose } from './elementwise.js';
import { constant, flatten, reshape } from './reshape.js';
import { batchNormalization, inferenceBatchNorm } from './normalization.js';
import { dropout, inferenceDropout } from './dropout.js';
import type { NodeProto } from '../proto.js';
import { cast, concat, gather, shape, slice, squeeze, unsqueeze } from './shape-ops.js';
import { constantOfShape, equal, expand, range, split, where } from './select.js';
import type { OpRule } from './types.js';
import { LOWERED_OPS } from '../lower.js';

/** Rules by op type. */
export const OP_RULES: Readonly<Record<string, OpRule>> = {
  Gemm: gemm,
  MatMul: matmul,
  Add: add,
  Sub: sub,
  Mul: mul,
  Relu: relu,
  Sigmoid: sigmoid,
  Tanh: tanh,
  Identity: identity,
  Softmax: softmax,
  LogSoftmax: logSoftmax,
  Flatten: flatten,
  Reshape: reshape,
  Constant: constant,
  Shape: shape,
  Gather: gather,
  Unsqueeze: unsqueeze,
  Squeeze: squeeze,
  Concat: concat,
  Cast: cast,
  Slice: slice,
  Div: div,
  Pow: pow,
  Sqrt: sqrt,
  Exp: exp,
  Log: log,
  Neg: neg,
  Erf: erf,
  LeakyRelu: leakyRelu,
  Elu: elu,
  HardSigmoid: hardSigmoid,
  HardSwish: hardSwish,
  Clip: clip,
  ReduceSum: reduceSum,
  ReduceMean: reduceMean,
  Transpose: transpose,
  Range: range,
  ConstantOfShape: constantOfShape,
  Equal: equal,
  Where: where,
  Expand: expand,
  Split: split,
  Conv: conv,
  BatchNormalization: batchNormalization,
  Dropout: dropout,
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: globalAveragePool,
};

/** The supported op types: those with rules, and those trained as their primitives (`lower.ts`). */
export const SUPPORTED_OPS: readonly string[] = [...Object.keys(OP_RULES), ...LOWERED_OPS];

export { convFactors, groupedConvJacobian } from './conv.js';
export { batchNormJacobian, isTrainingBatchNorm } from './normalization.js';
export { isMaskedDropout } from './dropout.js';
export { transposedWeight } from './dense.js';

/**
 * A node of the model as it came, as inference runs it: a training-mode BatchNormalization with its running
 * statistics, a Dropout as an Identity; any other node unchanged (`exportModel()`'s default mode).
 */
export function inferenceNode(node: NodeProto): NodeProto {
  if (node.opType === 'Dropout') return inferenceDropout(node);
  return inferenceBatchNorm(node);
}
