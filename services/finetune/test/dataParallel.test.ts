/**
 * Data-parallel training (two workers, half a batch each, gradients summed) takes the same
 * step as one worker on the whole batch.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '@nst/common';
import { decodeSquare, decodeStyle } from '../src/ml/dataset.ts';
import { trainInWorker } from '../src/engine/trainInWorker.ts';
import type { TrainingInput } from '../src/ml/trainingLoop.ts';
import { loadVgg19Weights } from '../src/ml/vgg19.ts';

const mirror = process.env.NST_DATA_MIRROR;

describe('data-parallel training', () => {
  it('matches single-worker training', async () => {
    if (!mirror) throw new Error('this test needs NST_DATA_MIRROR (the shared data folder)');
    const styleDir = path.join(mirror, 'models/fast-style/wave');
    const photos = await Promise.all(['100075', '100080', '100098'].map((n) => decodeSquare(path.join(mirror, `images/content/train/${n}.jpg`), 32)));
    const input = async (): Promise<TrainingInput> => ({
      weights: await loadCheckpoint(styleDir),
      vgg: await loadVgg19Weights({ mirror, cacheDir: '/nonexistent' }),
      style: await decodeStyle(path.join(styleDir, 'style.jpg'), 64),
      photos,
      heldOut: photos.slice(0, 1),
      params: { steps: 2, batchSize: 3, imageSize: 32, learningRate: 1e-3, weights: { style: 100, content: 7.5, tv: 200 }, seed: 7 },
    });
    let workers = 0;
    const parallel = await trainInWorker(await input(), { prefer: 'wasm', threads: 2, dataParallel: true }, { onBackend: (i) => (workers = i.workers) });
    expect(workers).toBe(2);
    const single = await trainInWorker(await input(), { prefer: 'wasm', threads: 1 }, {});
    expect(parallel.heldOut.trained.total).toBeCloseTo(single.heldOut.trained.total, -1);
    for (const [name, w] of single.weights) {
      const p = parallel.weights.get(name)!;
      let diff = 0;
      let scale = 0;
      for (let i = 0; i < w.length; i++) {
        diff = Math.max(diff, Math.abs(w[i]! - p[i]!));
        scale = Math.max(scale, Math.abs(w[i]!));
      }
      expect(diff / scale, name).toBeLessThan(1e-3);
    }
  });
});
