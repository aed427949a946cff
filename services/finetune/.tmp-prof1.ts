import * as tf from '@tensorflow/tfjs';
import { initTrainingBackend } from './src/training/tfBackend.ts';
import { conv2dBackpropFilter } from './src/training/wasmGradients.ts';
await initTrainingBackend({ prefer: 'wasm', threads: 2 });
const [xs, ks, s] = [[1, 256, 256, 32], [3, 3, 32, 64], 2] as const;
const x = tf.randomNormal([...xs]) as tf.Tensor4D; const k = tf.randomNormal([...ks]) as tf.Tensor4D;
const y = tf.conv2d(x, k, s, 'same');
for (let i = 0; i < 2; i++) {
  const prof = await tf.profile(() => conv2dBackpropFilter(x, y, { strides: s, pad: 'same', dataFormat: 'NHWC', filterShape: [...ks] } as never));
  console.log(prof.kernels.map((k) => `${k.name} ${(k.kernelTimeMs as number).toFixed(1)} ${k.inputShapes.map((s) => JSON.stringify(s)).join(' ')}`).join('\n'));
}
process.exit(0);
