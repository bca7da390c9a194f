import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { OnnxTrainer } from './src/index.js';
import { createDevice } from '@ifngd/linalg-gpu';
import { rng } from './test/reference.js';
const device = await createDevice({ backend: 'cpu' });
const N = 16; const r = rng(3);
const data = Float32Array.from({ length: N * 3 * 8 * 8 }, (_, i) => { const [n, c] = [Math.floor(i / 192), Math.floor(i / 64) % 3]; const k = n % 4; return r(1) + (k === 3 ? -1 : k === c ? 1.5 : 0); });
const x = new ort.Tensor('float32', data, [N, 3, 8, 8]);
const y = new ort.Tensor('int64', BigInt64Array.from({ length: N }, (_, i) => BigInt(i % 4)), [N]);
for (const kf of [{ adaptive: true }, { adaptive: true, fisher: 'sampled' as const }, { adaptive: { initialDamping: 1 } }]) {
  const t = await OnnxTrainer.create(new Uint8Array(readFileSync('test/fixtures/resnet-train.onnx')), { loss: 'softmax-cross-entropy', device, kfac: kf });
  const losses = []; for (let s = 0; s < 20; s++) losses.push(await t.step({ x }, y, { batchKey: 0, epoch: s }));
  console.log(JSON.stringify(kf), losses.map((l) => l.toFixed(3)).join(' '), JSON.stringify(t.kfacOptimizer!.stats.adaptive));
  await t.dispose();
}
device.destroy();
