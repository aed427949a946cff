/**
 * Tiled inference with Thumbnail Instance Normalization against a whole-image run of the
 * same real photo and weights, and the statistics variants of the exported graph.
 */
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { dataFolder } from '@nst/common';
import { DEFAULT_TILE_OPTIONS, convLayers, exportOnnx, loadCheckpoint, normMeanName, normVarName, tileGrid, type StyleNetWeights } from '@nst/network';
import { StyleRunner } from '../src/styleRunner.ts';
import { psnr } from '../../../tests/support/imageStats.ts';

const loc = { mirror: process.env.NST_DATA_MIRROR, cacheDir: path.resolve('.tmp/data-cache') };
const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 2, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' };

async function photo(width: number, height: number) {
  const root = await dataFolder('images/content/val/', loc);
  const dir = path.join(root, 'images/content/val');
  const file = path.join(dir, (await readdir(dir)).sort()[5]!);
  return new Float32Array(await sharp(file).resize(width, height, { fit: 'fill' }).removeAlpha().raw().toBuffer());
}

let weights: StyleNetWeights;
beforeAll(async () => {
  const root = await dataFolder('models/fast-style/wave/', loc);
  weights = await loadCheckpoint(path.join(root, 'models/fast-style/wave'));
});

describe('tiles', () => {
  it('cover the image on a grid of multiples of 4 that overlap', () => {
    const tiles = tileGrid(1536, 1000, DEFAULT_TILE_OPTIONS);
    for (const t of tiles) expect([t.x % 4, t.y % 4, t.x + t.width <= 1536, t.y + t.height <= 1000]).toEqual([0, 0, true, true]);
    expect(Math.max(...tiles.map((t) => t.x + t.width))).toBe(1536);
    expect(Math.max(...tiles.map((t) => t.y + t.height))).toBe(1000);
    expect(tileGrid(400, 300, DEFAULT_TILE_OPTIONS)).toEqual([{ x: 0, y: 0, width: 400, height: 300 }]);
  });
});

describe('thumbnail instance normalisation', () => {
  it('the "take" graph fed the statistics the "emit" graph measured reproduces the plain graph', async () => {
    const [w, h] = [128, 96];
    const input = await photo(w, h);
    const image = new ort.Tensor('float32', input, [1, h, w, 3]);
    const [own, emit, take] = await Promise.all((['own', 'emit', 'take'] as const).map((m) => ort.InferenceSession.create(exportOnnx(weights, {}, undefined, m), options)));
    const plain = (await own!.run({ image })).stylized!.data as Float32Array;
    const measured = await emit!.run({ image });
    const stats: Record<string, ort.Tensor> = {};
    for (const l of convLayers()) for (const n of [normMeanName(l), normVarName(l)]) stats[n] = measured[n]!;
    const given = (await take!.run({ image, ...stats })).stylized!.data as Float32Array;
    let maxDiff = 0;
    for (let i = 0; i < plain.length; i++) maxDiff = Math.max(maxDiff, Math.abs(plain[i]! - given[i]!));
    expect(maxDiff).toBeLessThan(0.05);
    await Promise.all([own, emit, take].map((s) => s!.release()));
  });

  it('a tiled 1536² run matches the whole-image run: PSNR >= 30 dB, and it reports tile progress', async () => {
    const side = 1536;
    const input = await photo(side, side);
    const bytes = exportOnnx(weights);
    const session = await ort.InferenceSession.create(bytes, options);
    const whole = new StyleRunner(session, bytes, options, { untiledMaxSide: side, thumbnailSide: 1280, tiles: DEFAULT_TILE_OPTIONS });
    const tiledSession = await ort.InferenceSession.create(bytes, options);
    const tiled = new StyleRunner(tiledSession, bytes, options, { untiledMaxSide: 1024, thumbnailSide: 1280, tiles: DEFAULT_TILE_OPTIONS });
    const reference = await whole.run({ pixels: input, width: side, height: side, strength: 1 });
    const progress: [number, number][] = [];
    const result = await tiled.run({ pixels: input, width: side, height: side, strength: 1, onProgress: (d, t) => progress.push([d, t]) });
    const total = tileGrid(side, side, DEFAULT_TILE_OPTIONS).length;
    expect(total).toBeGreaterThan(4);
    expect(progress.at(-1)).toEqual([total, total]);
    const db = psnr(reference, result);
    const out = path.resolve('.tmp/tiling');
    await mkdir(out, { recursive: true });
    const png = (d: Float32Array) => sharp(Uint8Array.from(d, (v) => v + 0.5), { raw: { width: side, height: side, channels: 3 } }).png();
    await Promise.all([png(result).toFile(path.join(out, 'tiled.png')), png(reference).toFile(path.join(out, 'whole.png'))]);
    expect(db, `PSNR ${db.toFixed(2)} dB`).toBeGreaterThanOrEqual(30);
    await Promise.all([whole.release(), tiled.release()]);
  }, 400_000);
});
