/**
 * The wasm backend's custom training kernels against the cpu backend's reference kernels,
 * on the shapes the style network and VGG use (strides 1 and 2, 3×3 and 9×9, 'same' padding).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTrainingBackend } from '../src/engine/tfBackend.ts';

function maxRelError(a: Float32Array, b: Float32Array): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
  }
  return err / Math.max(scale, 1e-12);
}

/** Runs fn on both backends with the same random inputs; returns [wasm, cpu] results. */
async function onBoth(shapes: number[][], fn: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[]): Promise<Array<[Float32Array, Float32Array]>> {
  const inputs = shapes.map((s) => tf.randomNormal(s).dataSync() as Float32Array);
  const results: Float32Array[][] = [];
  for (const backend of ['wasm', 'cpu']) {
    await tf.setBackend(backend);
    const outs = tf.tidy(() => {
      const r = fn(...inputs.map((d, i) => tf.tensor(d, shapes[i])));
      return Array.isArray(r) ? r : [r];
    });
    results.push(await Promise.all(outs.map(async (t) => (await t.data()) as Float32Array)));
    tf.dispose(outs);
  }
  await tf.setBackend('wasm');
  return results[0]!.map((w, i) => [w, results[1]![i]!]);
}

describe('wasm training kernels', () => {
  beforeAll(async () => {
    const info = await initTrainingBackend({ prefer: 'wasm', threads: 2 });
    expect(info.backend).toBe('wasm');
  });

  const convCases: Array<{ name: string; x: number[]; k: number[]; stride: 1 | 2 }> = [
    { name: '9x9 stride 1 (conv1)', x: [2, 20, 20, 3], k: [9, 9, 3, 8], stride: 1 },
    { name: '9x9 stride 1, fewer outputs than inputs (conv_out)', x: [2, 19, 21, 8], k: [9, 9, 8, 3], stride: 1 },
    { name: '3x3 stride 2 (conv2), odd size', x: [2, 17, 15, 8], k: [3, 3, 8, 16], stride: 2 },
    { name: '3x3 stride 1 (residual / VGG)', x: [1, 12, 12, 16], k: [3, 3, 16, 16], stride: 1 },
  ];

  for (const c of convCases) {
    it(`conv2d gradients match the cpu backend: ${c.name}`, async () => {
      const pairs = await onBoth([c.x, c.k], (x, k) => {
        const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, 'same'))));
        return g([x, k]);
      });
      for (const [wasm, cpu] of pairs) expect(maxRelError(wasm, cpu)).toBeLessThan(1e-4);
    });
  }

  it('conv2dTranspose forward and gradients match the cpu backend (deconv layers)', async () => {
    const x = [2, 8, 8, 16];
    const k = [3, 3, 8, 16]; // [kh, kw, out, in]
    const pairs = await onBoth([x, k], (a, b) => {
      const f = (p: tf.Tensor, q: tf.Tensor) => tf.conv2dTranspose(p as tf.Tensor4D, q as tf.Tensor4D, [2, 16, 16, 8], 2, 'same');
      const g = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.square(f(p, q))));
      return [f(a, b), ...g([a, b])];
    });
    for (const [wasm, cpu] of pairs) expect(maxRelError(wasm, cpu)).toBeLessThan(1e-4);
  });

  it('matMul with transposes and batches matches the cpu backend (Gram matrices and their gradients)', async () => {
    const pairs = await onBoth([[3, 50, 7], [3, 50, 9], [7, 40], [9, 40]], (a, b, c, d) => [
      tf.matMul(a!, b!, true, false),
      tf.matMul(c!, d!, false, true),
      tf.matMul(tf.transpose(a!, [0, 2, 1]), b!, false, false),
    ]);
    for (const [wasm, cpu] of pairs) expect(maxRelError(wasm, cpu)).toBeLessThan(1e-5);
  });

  it('max pool gradients match the cpu backend (VGG pools)', async () => {
    const pairs = await onBoth([[2, 8, 6, 5]], (x) => {
      const g = tf.grad((p: tf.Tensor) => tf.sum(tf.square(tf.maxPool(tf.relu(p) as tf.Tensor4D, 2, 2, 'valid'))));
      return g(x!);
    });
    for (const [wasm, cpu] of pairs) expect(maxRelError(wasm, cpu)).toBeLessThan(1e-6);
  });

  it('a conv filter gradient agrees with a central finite difference', async () => {
    await tf.setBackend('wasm');
    const x = tf.randomNormal([1, 6, 6, 2], 0, 1, 'float32', 3) as tf.Tensor4D;
    const k = tf.randomNormal([3, 3, 2, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
    const loss = (kk: tf.Tensor4D) => tf.sum(tf.square(tf.conv2d(x, kk, 2, 'same')));
    const grad = (await tf.grad((kk: tf.Tensor) => loss(kk as tf.Tensor4D))(k).data()) as Float32Array;
    const base = (await k.data()) as Float32Array;
    for (const i of [0, 7, 20, 53]) {
      const eps = 1e-2;
      const plus = base.slice();
      plus[i]! += eps;
      const minus = base.slice();
      minus[i]! -= eps;
      const fd = ((await loss(tf.tensor4d(plus, k.shape)).data())[0]! - (await loss(tf.tensor4d(minus, k.shape)).data())[0]!) / (2 * eps);
      expect(Math.abs(fd - grad[i]!)).toBeLessThan(1e-2 * Math.max(1, Math.abs(fd)));
    }
  });
});
