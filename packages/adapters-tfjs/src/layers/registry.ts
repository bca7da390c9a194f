/**
 * The open registry of layer blocks, by tfjs class name. The built-in blocks are registered here the way a new
 * one is: one module, one entry.
 * @module
 */
import { AdapterArgumentError } from '../errors.js';
import { convBlock } from './conv.js';
import { convTransposeBlock } from './conv-transpose.js';
import { denseBlock } from './dense.js';
import { depthwiseBlock } from './depthwise.js';
import { embeddingBlock } from './embedding.js';
import { batchNormBlock, layerNormBlock } from './normalization.js';
import { preluBlock } from './prelu.js';
import type { LayerBlock } from './types.js';
import { recurrentBlock } from './recurrent.js';
import { upSamplingBlock } from './upsampling.js';
import { weightlessBlock } from './weightless.js';

const BLOCKS = new Map<string, LayerBlock>();

function add(block: LayerBlock): void {
  for (const c of block.classNames) {
    if (BLOCKS.has(c)) throw new AdapterArgumentError(`registerLayerBlock: class '${c}' already has a block`);
  }
  for (const c of block.classNames) BLOCKS.set(c, block);
}

for (const b of [denseBlock, convBlock, convTransposeBlock, depthwiseBlock, preluBlock, embeddingBlock, batchNormBlock, layerNormBlock, recurrentBlock, upSamplingBlock, weightlessBlock]) add(b);

/**
 * Registers a block for tfjs layer classes (custom layers included: `getClassName()`). Throws
 * `AdapterArgumentError` when a class already has one or the block is malformed; nothing is registered then.
 */
export function registerLayerBlock(block: LayerBlock): void {
  const b = block as Partial<LayerBlock> | null | undefined;
  if (!b || !Array.isArray(b.classNames) || b.classNames.length === 0 || typeof b.compile !== 'function') {
    throw new AdapterArgumentError('registerLayerBlock: expected { classNames: string[], compile(layer, ctx) }');
  }
  add(block);
}

/** The block of a tfjs class, or undefined. */
export function layerBlock(className: string): LayerBlock | undefined {
  return BLOCKS.get(className);
}

/** Every class with a block (for messages and docs). */
export function supportedLayers(): string[] {
  return [...BLOCKS.keys()].sort();
}
