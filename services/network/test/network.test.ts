/**
 * The ONNX export against an independent computation: TF.js's own conv2d,
 * conv2dTranspose and moments on the same checkpoint weights, on a real photo.
 */
import path from 'node:path';
import { readdir } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { dataFolder } from '@nst/common';
import { exportOnnx, importOnnx, loadCheckpoint, parameterCount, type StyleNetWeights } from '../src/index.ts';
import { styleNetForward, weightsToTensors } from '../../finetune/src/ml/tfStyleNet.ts';
import { imageStats, meanAbsDiff } from '../../../tests/support/imageStats.ts';

const mirror = process.env.NST_DATA_MIRROR;
const loc = { mirror, cacheDir: path.resolve('.tmp/data-cache') };

async function photo(width: number, height: number) {
  const root = await dataFolder('images/content/val/', loc);
  const dir = path.join(root, 'images/content/val');
  const file = path.join(dir, (await readdir(dir)).sort()[3]!);
  const { data } = await sharp(file).resize(width, height, { fit: 'fill' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return new Float32Array(data);
}

async function runOnnx(bytes: Uint8Array, input: Float32Array, width: number, height: number) {
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ image: new ort.Tensor('float32', input, [1, height, width, 3]) });
  await session.release();
  return { data: out.stylized!.data as Float32Array, dims: out.stylized!.dims };
}

describe('style network', () => {
  let weights: StyleNetWeights;
  beforeAll(async () => {
    const root = await dataFolder('models/fast-style/udnie/', loc);
    weights = await loadCheckpoint(path.join(root, 'models/fast-style/udnie'));
    await tf.setBackend('cpu');
  });

  it('has the pretrained checkpoint parameter count', () => {
    expect(parameterCount()).toBe(1_677_638);
  });

  it('ONNX export matches a TF.js forward pass of the same weights on a real photo', async () => {
    const [w, h] = [96, 72];
    const input = await photo(w, h);
    const onnx = await runOnnx(exportOnnx(weights), input, w, h);
    expect(onnx.dims).toEqual([1, h, w, 3]);
    const reference = tf.tidy(() => styleNetForward(tf.tensor4d(input, [1, h, w, 3]), weightsToTensors(weights)));
    const ref = (await reference.data()) as Float32Array;
    reference.dispose();
    let maxDiff = 0;
    for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ref[i]! - onnx.data[i]!));
    expect(maxDiff).toBeLessThan(0.05); // of 0..255: float32 rounding only
  });

  it('stylises a photo visibly: not noise, not flat colour, far from the input', async () => {
    const [w, h] = [240, 160];
    const input = await photo(w, h);
    const { data } = await runOnnx(exportOnnx(weights), input, w, h);
    const stats = imageStats(data, w, h);
    expect(stats.std).toBeGreaterThan(20); // not flat
    expect(stats.neighbourCorrelation).toBeGreaterThan(0.5); // structured, not noise
    expect(meanAbsDiff(data, input)).toBeGreaterThan(20); // changed a lot
    // A layout error (e.g. a wrongly ordered transposed kernel) destroys that structure.
    const broken = new Map(weights);
    const k = weights.get('Variable_39')!;
    broken.set('Variable_39', k.map((_v, i) => k[(i * 7919) % k.length]!));
    const bad = await runOnnx(exportOnnx(broken), input, w, h);
    expect(meanAbsDiff(bad.data, data)).toBeGreaterThan(10);
  });

  it('reads the weights back out of the artefact exactly', () => {
    const back = importOnnx(exportOnnx(weights));
    for (const [name, w] of weights) expect(Buffer.from(back.get(name)!.buffer).equals(Buffer.from(w.buffer)), name).toBe(true);
  });

  it('keeps sides that are multiples of 4 and handles odd sizes', async () => {
    const bytes = exportOnnx(weights);
    expect((await runOnnx(bytes, await photo(52, 36), 52, 36)).dims).toEqual([1, 36, 52, 3]);
  });
});
