/**
 * The filter gradient of a 2-D convolution on tfjs's wasm backend, which ships none (tfjs-backend-wasm 4.22 has
 * no `Conv2DBackpropFilter` kernel, so no convolution can train there). Registered only where the kernel is
 * missing: an im2col gather of the input (the patch of every output position, in the filter's
 * `[kh, kw, in]` order) and one wasm matrix product, `dW = Pᵀ·dy`.
 * @module
 */
import { backend_util, Conv2DBackpropFilter, getKernel, registerKernel, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs-core';
import { AdapterArgumentError } from './errors.js';

/** The wasm backend as this kernel uses it (structural: the adapter does not depend on the wasm package). */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
  disposeData(dataId: object): boolean;
}

function kernel(name: string): NonNullable<ReturnType<typeof getKernel>>['kernelFunc'] {
  const k = getKernel(name, 'wasm');
  if (!k) throw new Error(`the wasm backend has no ${name} kernel`);
  return k.kernelFunc;
}

/** `dW[kh,kw,c,o] = Σ_{n,y,x} X[n, y·sh + kh − top, x·sw + kw − left, c] · dy[n,y,x,o]` (NHWC; zero outside X). */
function conv2dBackpropFilter(args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: Record<string, unknown> }): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as { strides: number | [number, number]; pad: 'valid' | 'same' | number | backend_util.ExplicitPadding; dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil'; filterShape: [number, number, number, number] };
  if (attrs.dataFormat === 'NCHW') throw new AdapterArgumentError("Conv2DBackpropFilter on wasm: only NHWC (channels-last) data is supported; use dataFormat 'channelsLast'");
  const info = backend_util.computeConv2DInfo(x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  // tfjs's convolution gradients take no dilation (conv2d's gradient refuses dilation rates above 1)
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels: O, filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const M = N * OH * OW;
  const K = KH * KW * C;
  const batchMatMul = kernel('BatchMatMul');
  const reshape = kernel('Reshape');
  const patches = backend.makeOutput([1, M, K], 'float32');
  const made: TensorInfo[] = [patches];
  try {
    const P = backend.typedArrayFromHeap(patches);
    const X = backend.typedArrayFromHeap(x);
    let r = 0;
    for (let n = 0; n < N; n++) {
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++, r++) {
          let o = r * K;
          for (let kh = 0; kh < KH; kh++) {
            const iy = oy * sh + kh - top;
            for (let kw = 0; kw < KW; kw++, o += C) {
              const ix = ox * sw + kw - left;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) P.fill(0, o, o + C);
              else {
                const s = ((n * H + iy) * W + ix) * C;
                P.set(X.subarray(s, s + C), o);
              }
            }
          }
        }
      }
    }
    const dy3 = reshape({ inputs: { x: dy }, backend: backend as never, attrs: { shape: [1, M, O] } }) as TensorInfo;
    made.push(dy3);
    const dw = batchMatMul({ inputs: { a: patches, b: dy3 }, backend: backend as never, attrs: { transposeA: true, transposeB: false } }) as TensorInfo;
    made.push(dw);
    return reshape({ inputs: { x: dw }, backend: backend as never, attrs: { shape: attrs.filterShape } }) as TensorInfo;
  } finally {
    for (const t of made) backend.disposeData(t.dataId);
  }
}

const config: KernelConfig = { kernelName: Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: conv2dBackpropFilter as KernelConfig['kernelFunc'] };

/**
 * Registers the wasm backend's missing `Conv2DBackpropFilter` kernel (NHWC), so that convolutions
 * train there — under `FngdTrainer` and tfjs's own `model.fit` alike. Does nothing where a kernel is already
 * registered (a later tfjs that ships one keeps its own). Called by `FngdTrainer.create` on the wasm backend.
 */
export function registerWasmConvFilterGradient(): void {
  if (getKernel(Conv2DBackpropFilter, 'wasm') === undefined) registerKernel(config);
}
