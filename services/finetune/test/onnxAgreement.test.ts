/**
 * The artefact a fine-tune publishes runs the same network as the TF.js model it was
 * trained as: weights from a real training step, exported to ONNX, run by onnxruntime-node
 * on a real photo, agree with TF.js within float32 rounding.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { ONNX_INPUT, ONNX_OUTPUT } from '@nst/common';
import { exportOnnx, importOnnx, loadCheckpoint } from '@nst/network';
import { styleNetForward, weightsToTensors } from '../src/ml/tfStyleNet.ts';
import { decodeSquare, decodeStyle } from '../src/ml/dataset.ts';
import { initTrainingBackend } from '../src/engine/tfBackend.ts';
import { train } from '../src/ml/trainingLoop.ts';
import { loadVgg19Weights } from '../src/ml/vgg19.ts';

const mirror = process.env.NST_DATA_MIRROR;

describe('exported ONNX vs TF.js', () => {
  beforeAll(async () => {
    if (!mirror) throw new Error('this test needs NST_DATA_MIRROR (the shared data folder)');
    await initTrainingBackend({ prefer: 'wasm', threads: 2 });
  });

  it('agrees on a real photo after a real training step', async () => {
    const loc = { mirror, cacheDir: '/nonexistent' };
    const styleDir = path.join(mirror!, 'models/fast-style/wave');
    const parent = await loadCheckpoint(styleDir);
    const photos = [await decodeSquare(path.join(mirror!, 'images/content/train/100075.jpg'), 64)];
    const out = await train({
      weights: parent,
      vgg: await loadVgg19Weights(loc),
      style: await decodeStyle(path.join(styleDir, 'style.jpg'), 128),
      photos,
      heldOut: photos,
      params: { steps: 1, batchSize: 1, imageSize: 64, learningRate: 1e-2, weights: { style: 100, content: 7.5, tv: 200 }, seed: 1 },
    });
    expect(out.weights.get('Variable_12')).not.toEqual(parent.get('Variable_12')); // training changed the weights

    const onnx = exportOnnx(out.weights, { model: 'model1', source: 'finetune' });
    // The artefact stores the weights exactly, in checkpoint layout.
    expect(importOnnx(onnx).get('Variable_45')).toEqual(out.weights.get('Variable_45'));

    const size = 192;
    const pixels = await decodeSquare(path.join(mirror!, 'images/content/val/101085.jpg'), size);
    const session = await ort.InferenceSession.create(onnx);
    const viaOnnx = (await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', pixels, [1, size, size, 3]) }))[ONNX_OUTPUT]!.data as Float32Array;
    await session.release();

    const vars = weightsToTensors(out.weights);
    const y = tf.tidy(() => styleNetForward(tf.tensor4d(pixels, [1, size, size, 3]), vars));
    const viaTf = (await y.data()) as Float32Array;
    tf.dispose([y, ...vars.values()]);

    expect(viaTf.length).toBe(viaOnnx.length);
    let maxDiff = 0;
    let sumDiff = 0;
    for (let i = 0; i < viaTf.length; i++) {
      const d = Math.abs(viaTf[i]! - viaOnnx[i]!);
      maxDiff = Math.max(maxDiff, d);
      sumDiff += d;
    }
    // Outputs are 0..255: within a small fraction of one grey level everywhere.
    expect(maxDiff).toBeLessThan(0.1);
    expect(sumDiff / viaTf.length).toBeLessThan(0.005);
  });
});
