import * as tf from '@tensorflow/tfjs';
import { loadCheckpoint } from '@nst/common';
import { styleNetForward, weightsToTensors } from '@nst/common/network/tfStyleNet';
import { initTrainingBackend } from './src/training/tfBackend.ts';
import { Vgg19, loadVgg19Weights } from './src/training/vgg19.ts';
import { contentTarget, perceptualLoss, styleTargets } from './src/training/perceptualLoss.ts';
const threads = Number(process.argv[2] ?? 2);
console.log(await initTrainingBackend({ prefer: 'wasm', threads }));
const w = await loadCheckpoint('/work/shared/data/models/fast-style/wave');
const vgg = new Vgg19(await loadVgg19Weights({ mirror: '/work/shared/data', cacheDir: '/tmp/x' }));
const vars = weightsToTensors(w, true);
const opt = tf.train.adam(1e-3);
for (const [size, batch] of [[256, Number(process.env.B ?? 4)]]) {
  const x = tf.randomUniform([batch, size, size, 3], 0, 255) as tf.Tensor4D;
  const grams = styleTargets(vgg, tf.randomUniform([1, size, size, 3], 0, 255) as tf.Tensor4D);
  const content = contentTarget(vgg, x);
  for (let i = 0; i < 2; i++) {
    const t = performance.now();
    const loss = opt.minimize(() => perceptualLoss(vgg, styleNetForward(x, vars), content, grams, { style: 100, content: 7.5, tv: 200 }).total, true)!;
    const v = await loss.data(); loss.dispose();
    console.log(size, batch, 'step', ((performance.now() - t) / 1000).toFixed(2), 's loss', v[0], 'tensors', tf.memory().numTensors);
  }
}
if (process.argv[3] === 'profile') {
  const x = tf.randomUniform([1, 256, 256, 3], 0, 255) as tf.Tensor4D;
  const grams = styleTargets(vgg, x); const content = contentTarget(vgg, x);
  const prof = await tf.profile(() => { const l = opt.minimize(() => perceptualLoss(vgg, styleNetForward(x, vars), content, grams, { style: 100, content: 7.5, tv: 200 }).total, true); return l!; });
  const agg = new Map<string, number>();
  for (const k of prof.kernels) agg.set(k.name, (agg.get(k.name) ?? 0) + (k.kernelTimeMs as number));
  console.log([...agg].sort((a, b) => b[1] - a[1]).slice(0, 25));
}

if (process.argv[3] === 'detail') {
  const x = tf.randomUniform([1, 256, 256, 3], 0, 255) as tf.Tensor4D;
  const grams = styleTargets(vgg, x); const content = contentTarget(vgg, x);
  const prof = await tf.profile(() => { const l = opt.minimize(() => perceptualLoss(vgg, styleNetForward(x, vars), content, grams, { style: 100, content: 7.5, tv: 200 }).total, true); return l!; });
  const agg = new Map<string, number>();
  for (const k of prof.kernels) { if (!['BatchMatMul', 'Conv2D', 'MaxPoolGrad', 'Sum', 'Conv2DBackpropInput', 'Mean'].includes(k.name)) continue; const key = `${k.name} ${k.inputShapes.map((s) => JSON.stringify(s)).join(' ')}`; agg.set(key, (agg.get(key) ?? 0) + (k.kernelTimeMs as number)); }
  console.log([...agg].sort((a, b) => b[1] - a[1]).slice(0, 30).map(([k, v]) => `${v.toFixed(0).padStart(6)} ${k}`).join('\n'));
}
process.exit(0);
