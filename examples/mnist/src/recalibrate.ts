/**
 * A BatchNorm model's test metric with its running statistics re-estimated after training ("precise BN", Wu &
 * Johnson 2021): every BatchNormalization's moving mean and variance set, layer by layer in graph order, to the
 * batch statistics of its input over the (unaugmented) training images, the layers before it already
 * recalibrated. Running statistics are an exponential average over training steps, so they trail weights that
 * moved fast in a short run; evaluation in inference mode then measures the lag as well as the fit. The demo
 * reports both, after the timed epochs (the recalibration is not timed).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/** The model's BatchNormalization layers, in graph order. */
export function batchNormLayers(model: tfl.LayersModel): tfl.layers.Layer[] {
  return model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
}

/** Sets every BatchNormalization's moving statistics to its input's batch statistics over `x` (N × …). */
export function recalibrateBatchNorm(model: tfl.LayersModel, x: tf.Tensor): void {
  for (const bn of batchNormLayers(model)) {
    const sub = tfl.model({ inputs: model.inputs, outputs: bn.input as tfl.SymbolicTensor });
    tf.tidy(() => {
      const z = sub.predict(x) as tf.Tensor;
      const axes = Array.from({ length: z.rank - 1 }, (_, i) => i);
      const { mean, variance } = tf.moments(z, axes);
      // the layer's own gamma and beta are kept; only the moving statistics change
      const [gamma, beta] = bn.getWeights();
      bn.setWeights([gamma!, beta!, mean, variance]);
    });
  }
}
