import * as tf from '@tensorflow/tfjs';
import { initTrainingBackend } from './src/training/tfBackend.ts';
import { conv2dBackpropFilter, conv2dBackpropInput } from './src/training/wasmGradients.ts';
await initTrainingBackend({ prefer: 'wasm', threads: 2 });
const cases: Array<[string, number[], number[], number]> = [
  ['conv1', [1, 256, 256, 3], [9, 9, 3, 32], 1],
  ['conv2', [1, 256, 256, 32], [3, 3, 32, 64], 2],
  ['conv3', [1, 128, 128, 64], [3, 3, 64, 128], 2],
  ['res', [1, 64, 64, 128], [3, 3, 128, 128], 1],
  ['deconv1W', [1, 128, 128, 64], [3, 3, 64, 128], 2],
  ['deconv2W', [1, 256, 256, 32], [3, 3, 32, 64], 2],
  ['conv_out', [1, 256, 256, 32], [9, 9, 32, 3], 1],
  ['vgg1_2', [1, 256, 256, 64], [3, 3, 64, 64], 1],
];
for (const [name, xs, ks, s] of cases) {
  const x = tf.randomNormal(xs) as tf.Tensor4D; const k = tf.randomNormal(ks) as tf.Tensor4D;
  const y = tf.conv2d(x, k, s as 1 | 2, 'same');
  const time = async (f: () => tf.Tensor) => { let best = 1e9; for (let i = 0; i < 3; i++) { const t = performance.now(); const r = f(); await r.data(); r.dispose(); best = Math.min(best, performance.now() - t); } return best.toFixed(0); };
  const fwd = await time(() => tf.conv2d(x, k, s as 1 | 2, 'same'));
  const dW = await time(() => conv2dBackpropFilter(x, y, { strides: s, pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: ks } as never));
  const dX = await time(() => conv2dBackpropInput(y, k, { strides: s, pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined, inputShape: xs } as never));
  console.log(name.padEnd(10), 'fwd', fwd.padStart(5), 'dW', dW.padStart(5), 'dX', dX.padStart(5));
}
process.exit(0);
