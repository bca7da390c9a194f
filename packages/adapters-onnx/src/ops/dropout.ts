/**
 * Dropout in training mode, after `lowerDropout` (`lower.ts`) gave it a mask input the trainer draws per step:
 * `y = x·mask` and `dx = dy·mask`. Samples do not interact, so each sample's gradient is its own. Inference runs the
 * node as an Identity.
 * @module
 */
import { Attrs, makeNode, type NodeProto } from '../proto.js';
import { DROPOUT_MASK_ATTR } from '../lower.js';
import { input, type OpRule } from './types.js';

/** Whether a node is a Dropout the trainer feeds a mask to. */
export function isMaskedDropout(node: NodeProto): boolean {
  return node.opType === 'Dropout' && new Attrs(node).int(DROPOUT_MASK_ATTR, 0) === 1;
}

/** Dropout with a fed mask (training); any other Dropout has become an Identity before the rules see it. */
export const dropout: OpRule = {
  infer(node, ctx) {
    if (!isMaskedDropout(node)) return 'a Dropout the trainer has not lowered';
    return [ctx.shape(input(node, 0))];
  },
  forward(b, node) {
    b.op('Mul', [input(node, 0), input(node, 1)], {}, node.output[0]!);
    return [];
  },
  inference(b, node) {
    b.push(inferenceDropout(node));
  },
  backward(b, { node }, [dY], wanted) {
    if (!dY || !wanted[0]) return [];
    return [b.mul(dY, input(node, 1))];
  },
};

/** A Dropout as inference runs it: an Identity. */
export function inferenceDropout(node: NodeProto): NodeProto {
  return makeNode('Identity', [input(node, 0)], [node.output[0]!], {}, node.name);
}
