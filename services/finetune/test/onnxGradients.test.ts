/**
 * The onnx engine's backward rules against TF.js (cpu backend) as the independent
 * reference: each op's gradient on small random inputs, then the whole training graph's
 * gradient of every style-network weight on real photos, the real style and the real
 * VGG19 weights.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, variableShapes } from '@nst/network';
import { styleNetForward, weightsToTensors } from '../src/ml/tfStyleNet.ts';
import { TrainingGraph, type Value, type WeightGradientMethod } from '../src/engine/onnx/graph.ts';
import { LOSS_OUTPUTS, PHOTOS, buildTrainingGraph, gradOutput, gramInput } from '../src/engine/onnx/trainingGraph.ts';
import { decodeSquare, decodeStyle } from '../src/ml/dataset.ts';
import { STYLE_LAYERS, contentTarget, gram, perceptualLoss, styleTargets, totalVariation } from '../src/ml/perceptualLoss.ts';
import { initTrainingBackend } from '../src/engine/tfBackend.ts';
import { Vgg19, loadVgg19Weights } from '../src/ml/vgg19.ts';

const mirror = process.env.NST_DATA_MIRROR;
const NCHW = [0, 3, 1, 2];
const NHWC = [0, 2, 3, 1];

/** max |a − b| over max |b|. */
function relError(a: Float32Array, b: Float32Array): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return err / Math.max(scale, 1e-30);
}

/** ‖a − b‖ over ‖b‖. */
function normRelError(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i]! - b[i]!) ** 2;
    s += b[i]! ** 2;
  }
  return Math.sqrt(d / Math.max(s, 1e-30));
}

let seed = 1;
const random = (shape: number[], scale = 1) => tf.tidy(() => tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed++), scale).dataSync() as Float32Array);

interface OpCase {
  name: string;
  /** Inputs: shape (as the ONNX graph sees it: images NCHW), whether differentiated, scale. */
  inputs: Array<{ shape: number[]; grad: boolean; scale?: number; image?: boolean }>;
  onnx: (g: TrainingGraph, xs: Value[]) => Value;
  /** The same op in TF.js, on NHWC images. */
  tfjs: (...xs: tf.Tensor[]) => tf.Tensor;
  /** Output is an image (NCHW in ONNX, NHWC in TF.js). */
  imageOut?: boolean;
  weightGradient?: WeightGradientMethod;
}

/** loss = mean((op(x) − t)²) for a random t; returns ONNX's and TF.js's input gradients. */
async function gradientsOfBoth(c: OpCase): Promise<Array<[Float32Array, Float32Array]>> {
  const data = c.inputs.map((i) => random(i.shape, i.scale ?? 1));
  const g = new TrainingGraph();
  if (c.weightGradient) g.weightGradientMethod = () => c.weightGradient!;
  const values = c.inputs.map((i, k) => g.input(`in${k}`, i.shape, i.grad));
  const y = c.onnx(g, values);
  const target = random(y.shape, 0.5);
  const t = g.input('target', y.shape, false);
  const grads = g.gradients(g.meanSquaredError(y, t.name), values.filter((v) => v.grad));
  values.forEach((v, k) => v.grad && g.output(grads.get(v.name)!, `grad${k}`, v.shape));
  const session = await ort.InferenceSession.create(g.encode('op'), { logSeverityLevel: 3 });
  const feeds: Record<string, ort.Tensor> = { target: new ort.Tensor('float32', target, y.shape) };
  values.forEach((v, k) => (feeds[v.name] = new ort.Tensor('float32', data[k]!, v.shape)));
  const out = await session.run(feeds);
  await session.release();

  const reference = tf.tidy(() => {
    const toTf = (d: Float32Array, k: number) => {
      const x = tf.tensor(d, c.inputs[k]!.shape);
      return c.inputs[k]!.image ? tf.transpose(x, NHWC) : x;
    };
    const inputs = data.map(toTf);
    const f = (...xs: tf.Tensor[]) => {
      let r = c.tfjs(...xs);
      if (c.imageOut) r = tf.transpose(r, NCHW);
      return tf.mean(tf.square(tf.sub(r, tf.tensor(target, y.shape))));
    };
    const wrt = inputs.map((_, k) => k).filter((k) => c.inputs[k]!.grad);
    return tf.grads((...xs: tf.Tensor[]) => f(...inputs.map((x, k) => (wrt.includes(k) ? xs[wrt.indexOf(k)]! : x))))(wrt.map((k) => inputs[k]!)).map((gr, j) =>
      c.inputs[wrt[j]!]!.image ? tf.transpose(gr, NCHW) : gr,
    );
  });
  const pairs: Array<[Float32Array, Float32Array]> = [];
  let j = 0;
  values.forEach((v, k) => {
    if (!v.grad) return;
    pairs.push([out[`grad${k}`]!.data as Float32Array, reference[j++]!.dataSync() as Float32Array]);
  });
  tf.dispose(reference);
  return pairs;
}

const img = (shape: number[], scale = 1) => ({ shape, grad: true, image: true, scale });
const param = (shape: number[], scale = 0.2) => ({ shape, grad: true, scale });

const cases: OpCase[] = [
  {
    name: 'conv 3×3 stride 1 (residual, VGG)',
    inputs: [img([2, 8, 10, 10]), param([3, 3, 8, 6])],
    onnx: (g, [x, k]) => g.conv(x!, k!, 1),
    tfjs: (x, k) => tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 1, 'same'),
    imageOut: true,
  },
  {
    name: 'conv 3×3 stride 2 (downsampling)',
    inputs: [img([2, 6, 12, 8]), param([3, 3, 6, 10])],
    onnx: (g, [x, k]) => g.conv(x!, k!, 2),
    tfjs: (x, k) => tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 2, 'same'),
    imageOut: true,
  },
  ...(['im2col', 'shift-dy', 'conv'] as const).map(
    (method): OpCase => ({
      name: `conv 9×9 stride 1, weight gradient by ${method}`,
      inputs: [img([2, 5, 12, 12]), param([9, 9, 5, 3])],
      onnx: (g, [x, k]) => g.conv(x!, k!, 1),
      tfjs: (x, k) => tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 1, 'same'),
      imageOut: true,
      weightGradient: method,
    }),
  ),
  {
    name: 'transposed conv 3×3 stride 2 (upsampling)',
    inputs: [img([2, 8, 5, 6]), param([3, 3, 4, 8])],
    onnx: (g, [x, k]) => g.deconv(x!, k!, 2),
    tfjs: (x, k) => tf.conv2dTranspose(x as tf.Tensor4D, k as tf.Tensor4D, [2, 10, 12, 4], 2, 'same'),
    imageOut: true,
  },
  {
    name: 'instance norm',
    inputs: [img([2, 4, 6, 6], 3), param([4], 1), param([4], 1)],
    onnx: (g, [x, scale, shift]) => g.instanceNorm(x!, scale!, shift!, 1e-3),
    tfjs: (x, scale, shift) => {
      const { mean, variance } = tf.moments(x!, [1, 2], true);
      return tf.add(tf.mul(tf.div(tf.sub(x!, mean), tf.sqrt(tf.add(variance, 1e-3))), scale!), shift!);
    },
    imageOut: true,
  },
  { name: 'ReLU', inputs: [img([2, 3, 5, 5])], onnx: (g, [x]) => g.relu(x!), tfjs: (x) => tf.relu(x!), imageOut: true },
  {
    name: 'output head: tanh, scale, offset, clip',
    inputs: [img([1, 3, 8, 8], 2)],
    onnx: (g, [x]) => g.outputHead(x!, 150, 127.5, 0, 255),
    tfjs: (x) => tf.clipByValue(tf.add(tf.mul(tf.tanh(x!), 150), 127.5), 0, 255),
    imageOut: true,
  },
  {
    name: 'residual add',
    inputs: [img([2, 3, 4, 4]), img([2, 3, 4, 4])],
    onnx: (g, [a, b]) => g.add(a!, b!),
    tfjs: (a, b) => tf.add(a!, b!),
    imageOut: true,
  },
  {
    name: 'VGG preprocessing (mean subtraction)',
    inputs: [img([1, 3, 4, 4], 100)],
    onnx: (g, [x]) => g.subConstant(x!, g.constant([123.68, 116.779, 103.939], [1, 3, 1, 1])),
    tfjs: (x) => tf.sub(x!, tf.tensor1d([123.68, 116.779, 103.939])),
    imageOut: true,
  },
  {
    name: 'NHWC → NCHW transpose',
    inputs: [{ shape: [2, 4, 5, 3], grad: true }],
    onnx: (g, [x]) => g.transpose(x!, NCHW),
    tfjs: (x) => tf.transpose(x!, NCHW),
  },
  { name: '2×2 max-pool', inputs: [img([2, 3, 8, 6])], onnx: (g, [x]) => g.maxPool2(x!), tfjs: (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid'), imageOut: true },
  { name: 'Gram matrix', inputs: [img([2, 5, 4, 6])], onnx: (g, [x]) => g.gram(x!), tfjs: (x) => gram(x as tf.Tensor4D) },
  {
    name: 'mean squared error against a broadcast target',
    inputs: [{ shape: [3, 4, 4], grad: true }],
    onnx: (g, [x]) => g.meanSquaredError(x!, g.constant(new Float32Array(16).fill(0.3), [1, 4, 4])),
    tfjs: (x) => tf.mean(tf.square(tf.sub(x!, tf.fill([1, 4, 4], 0.3)))),
  },
  { name: 'total variation', inputs: [img([2, 3, 6, 5])], onnx: (g, [x]) => g.totalVariation(x!), tfjs: (x) => totalVariation(x as tf.Tensor4D) },
  {
    name: 'scale and sum of loss terms',
    inputs: [{ shape: [], grad: true }, { shape: [], grad: true }],
    onnx: (g, [a, b]) => g.sum([g.scaleBy(a!, 3), b!]),
    tfjs: (a, b) => tf.add(tf.mul(a!, 3), b!),
  },
];

describe('onnx engine: backward rules against TF.js', () => {
  beforeAll(async () => {
    await initTrainingBackend({ prefer: 'cpu' });
  });

  for (const c of cases) {
    it(c.name, async () => {
      const pairs = await gradientsOfBoth(c);
      expect(pairs.length).toBe(c.inputs.filter((i) => i.grad).length);
      for (const [onnxGrad, tfGrad] of pairs) {
        expect(onnxGrad.length).toBe(tfGrad.length);
        expect(relError(onnxGrad, tfGrad)).toBeLessThan(1e-4);
      }
    });
  }
});

describe('onnx engine: the training graph against TF.js', () => {
  it('gives every weight the gradient TF.js computes, and the same loss terms', async () => {
    if (!mirror) throw new Error('this test needs NST_DATA_MIRROR (the shared data folder)');
    await initTrainingBackend({ prefer: 'cpu' });
    // TF.js cpu differentiates the whole network in about 20 s of CPU at this size.
    const size = 16;
    const styleDir = path.join(mirror, 'models/fast-style/wave');
    const weights = await loadCheckpoint(styleDir);
    const vggWeights = await loadVgg19Weights({ mirror, cacheDir: '/nonexistent' });
    const photos = await Promise.all(['100075', '100080'].map((n) => decodeSquare(path.join(mirror, `images/content/train/${n}.jpg`), size)));
    const style = await decodeStyle(path.join(styleDir, 'style.jpg'), 64);
    const lossWeights = { style: 100, content: 7.5, tv: 200 };
    const batch = new Float32Array(2 * size * size * 3);
    photos.forEach((p, i) => batch.set(p, i * size * size * 3));

    // TF.js
    const vgg = new Vgg19(vggWeights);
    const grams = styleTargets(vgg, tf.tensor4d(style.data, [1, style.height, style.width, 3]));
    const x = tf.tensor4d(batch, [2, size, size, 3]);
    const vars = weightsToTensors(weights, true);
    let tfLoss: number[] = [];
    const { grads } = tf.variableGrads(() => {
      const p = perceptualLoss(vgg, styleNetForward(x, vars), contentTarget(vgg, x), grams, lossWeights);
      tfLoss = [p.style, p.content, p.tv, p.total].map((t) => t.dataSync()[0]!);
      return p.total;
    }, [...vars.values()] as tf.Variable[]);

    // onnxruntime
    const session = await ort.InferenceSession.create(buildTrainingGraph({ batch: 2, height: size, width: size, loss: lossWeights, vgg: vggWeights }), {
      logSeverityLevel: 3,
    });
    const feeds: Record<string, ort.Tensor> = { [PHOTOS]: new ort.Tensor('float32', batch, [2, size, size, 3]) };
    for (const [name, shape] of variableShapes()) feeds[name] = new ort.Tensor('float32', weights.get(name)!, shape);
    for (const l of STYLE_LAYERS) feeds[gramInput(l)] = new ort.Tensor('float32', grams.get(l)!.dataSync() as Float32Array, grams.get(l)!.shape);
    const out = await session.run(feeds);
    await session.release();

    LOSS_OUTPUTS.forEach((k, i) => expect(Math.abs((out[k]!.data as Float32Array)[0]! - tfLoss[i]!) / tfLoss[i]!).toBeLessThan(1e-4));
    let checked = 0;
    for (const [name] of variableShapes()) {
      const err = normRelError(out[gradOutput(name)]!.data as Float32Array, grads[name]!.dataSync() as Float32Array);
      expect(err, name).toBeLessThanOrEqual(1e-3);
      checked++;
    }
    expect(checked).toBe(48);
    tf.dispose([x, ...vars.values(), ...grams.values(), ...Object.values(grads)]);
    vgg.dispose();
  }, 300_000);
});
