/**
 * Training on the onnx engine, the service's default: a short run in the training worker
 * lowers the held-out loss, and the version it produces, exported as the service publishes
 * it, serves on onnxruntime as a stylised picture of the photo (agreeing with TF.js).
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { ONNX_INPUT, ONNX_OUTPUT } from '@nst/common';
import { exportOnnx, loadCheckpoint } from '@nst/network';
import { styleNetForward, weightsToTensors } from '../src/ml/tfStyleNet.ts';
import { Adam } from '../src/engine/onnx/adam.ts';
import { usesOnnxEngine } from '../src/engine/engineChoice.ts';
import { onnxMicroBatch, trainOnnx } from '../src/engine/onnx/onnxTrainer.ts';
import { decodeSquare, decodeStyle } from '../src/ml/dataset.ts';
import { initTrainingBackend } from '../src/engine/tfBackend.ts';
import { trainInWorker } from '../src/engine/trainInWorker.ts';
import { loadVgg19Weights } from '../src/ml/vgg19.ts';

const mirror = process.env.NST_DATA_MIRROR;

async function stylise(onnx: Uint8Array, pixels: Float32Array, size: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(onnx);
  const out = (await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', pixels, [1, size, size, 3]) }))[ONNX_OUTPUT]!.data as Float32Array;
  await session.release();
  return out;
}

function correlation(a: Float32Array, b: Float32Array): number {
  const mean = (x: Float32Array) => x.reduce((s, v) => s + v, 0) / x.length;
  const [ma, mb] = [mean(a), mean(b)];
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i]! - ma) * (b[i]! - mb);
    aa += (a[i]! - ma) ** 2;
    bb += (b[i]! - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

describe('onnx training engine', () => {
  it('is the default engine; NST_FINETUNE_BACKEND or an explicit backend picks TF.js', () => {
    expect(usesOnnxEngine({}, {})).toBe(true);
    expect(usesOnnxEngine({}, { NST_FINETUNE_BACKEND: 'onnx' })).toBe(true);
    expect(usesOnnxEngine({}, { NST_FINETUNE_BACKEND: 'wasm' })).toBe(false);
    expect(usesOnnxEngine({}, { NST_FINETUNE_BACKEND: 'node' })).toBe(false);
    expect(usesOnnxEngine({ prefer: 'wasm' }, {})).toBe(false);
  });

  it('splits large batches into equal parts', () => {
    expect(onnxMicroBatch(4, 128)).toBe(4);
    expect(onnxMicroBatch(4, 256)).toBe(4);
    expect(onnxMicroBatch(8, 256)).toBe(4);
    expect(onnxMicroBatch(6, 512)).toBe(1);
    expect(onnxMicroBatch(4, 300)).toBe(2);
    expect(onnxMicroBatch(3, 300)).toBe(1);
  });

  it('takes the same step whether a batch runs whole or in parts', async () => {
    if (!mirror) throw new Error('this test needs NST_DATA_MIRROR (the shared data folder)');
    const size = 32;
    const styleDir = path.join(mirror, 'models/fast-style/wave');
    const photos = await Promise.all(['100075', '100080'].map((n) => decodeSquare(path.join(mirror, `images/content/train/${n}.jpg`), size)));
    const input = {
      weights: await loadCheckpoint(styleDir),
      vgg: await loadVgg19Weights({ mirror, cacheDir: '/nonexistent' }),
      style: await decodeStyle(path.join(styleDir, 'style.jpg'), 64),
      photos,
      heldOut: [],
      params: { steps: 1, batchSize: 2, imageSize: size, learningRate: 1e-3, weights: { style: 100, content: 7.5, tv: 200 }, seed: 3 },
    };
    const losses: number[] = [];
    const onStep = (r: { loss: { total: number } }) => void losses.push(r.loss.total);
    const whole = await trainOnnx(input, { onStep }, { threads: 1 });
    const parts = await trainOnnx(input, { onStep }, { threads: 1, microBatchPixels: size * size });
    expect(Math.abs(losses[1]! - losses[0]!) / losses[0]!).toBeLessThan(1e-5);
    // Both parts' gradients count: each weight moves the same way.
    for (const [name, w] of whole.weights) {
      const p = parts.weights.get(name)!;
      for (let i = 0; i < w.length; i += 97) expect(p[i]).toBeCloseTo(w[i]!, 4);
    }
  });

  it('Adam takes the step tf.train.adam takes', async () => {
    await initTrainingBackend({ prefer: 'cpu' });
    const w0 = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i));
    const grads = [1, 2, 3].map((k) => Float32Array.from({ length: 50 }, (_, i) => Math.cos(i * k) * 10 ** (k - 2)));
    const ours = new Map([['w', w0.slice()]]);
    const adam = new Adam(0.01);
    for (const g of grads) adam.step(ours, new Map([['w', g]]));
    const v = tf.variable(tf.tensor1d(w0));
    const opt = tf.train.adam(0.01);
    for (const g of grads) opt.applyGradients([{ name: v.name, tensor: tf.tensor1d(g) }]);
    const theirs = v.dataSync();
    for (let i = 0; i < w0.length; i++) expect(ours.get('w')![i]).toBeCloseTo(theirs[i]!, 6);
    opt.dispose();
    v.dispose();
  });

  it('lowers the held-out loss in a short run; the exported version serves a stylised image', async () => {
    if (!mirror) throw new Error('this test needs NST_DATA_MIRROR (the shared data folder)');
    const size = 64;
    const styleDir = path.join(mirror, 'models/fast-style/wave');
    const parent = await loadCheckpoint(styleDir);
    const names = ['100075', '100080', '100098', '103041', '104022', '105019'];
    const photos = await Promise.all(names.map((n) => decodeSquare(path.join(mirror, `images/content/train/${n}.jpg`), size)));
    let backend = '';
    const steps: number[] = [];
    const out = await trainInWorker(
      {
        weights: parent,
        vgg: await loadVgg19Weights({ mirror, cacheDir: '/nonexistent' }),
        style: await decodeStyle(path.join(styleDir, 'style.jpg'), 128),
        photos: photos.slice(0, 4),
        heldOut: photos.slice(4),
        params: { steps: 4, batchSize: 2, imageSize: size, learningRate: 1e-3, weights: { style: 100, content: 7.5, tv: 200 }, seed: 1 },
      },
      { threads: 2 },
      { onBackend: (i) => (backend = i.backend), onStep: (r) => void steps.push(r.loss.total) },
    );
    expect(backend).toBe('onnx');
    expect(steps).toHaveLength(4);
    expect(steps.every(Number.isFinite)).toBe(true);
    expect(out.stepSeconds).toHaveLength(4);
    // The parent was trained on larger images: at 64² a few steps already lower the loss.
    expect(out.heldOut.trained.total).toBeLessThan(out.heldOut.parent.total);
    expect(out.weights.get('Variable_12')).not.toEqual(parent.get('Variable_12'));

    const side = 128;
    const pixels = await decodeSquare(path.join(mirror, 'images/content/val/101085.jpg'), side);
    const viaOnnx = await stylise(exportOnnx(out.weights, { model: 'm', source: 'finetune' }), pixels, side);
    const parentOut = await stylise(exportOnnx(parent), pixels, side);
    // TF.js (independent forward pass) agrees with the served artefact.
    await initTrainingBackend({ prefer: 'cpu' });
    const vars = weightsToTensors(out.weights);
    const viaTf = tf.tidy(() => styleNetForward(tf.tensor4d(pixels, [1, side, side, 3]), vars)).dataSync() as Float32Array;
    tf.dispose([...vars.values()]);
    let maxDiff = 0;
    for (let i = 0; i < viaTf.length; i++) maxDiff = Math.max(maxDiff, Math.abs(viaTf[i]! - viaOnnx[i]!));
    expect(maxDiff).toBeLessThan(0.1);
    // A plausible stylised picture: full range, not flat, still the parent's picture of the scene.
    let min = 255;
    let max = 0;
    for (const v of viaOnnx) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(max - min).toBeGreaterThan(150);
    expect(correlation(viaOnnx, parentOut)).toBeGreaterThan(0.8);
    expect(correlation(viaOnnx, pixels)).toBeGreaterThan(0.1);
  });
});
