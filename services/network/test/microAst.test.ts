/**
 * MicroAST: weights imported from the upstream .pth.tar files, the ONNX export against an
 * independent TF.js forward pass of the same weights on a real photo and a real painting,
 * and the split style/content graphs against the full one.
 */
import path from 'node:path';
import { readdir } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { dataFolder } from '@nst/common';
import { MICROAST_PREFIX, STYLE_CODE, exportMicroAstOnnx, importMicroAstOnnx, loadMicroAstWeights, microAstParameterCount, readTorchLegacy, type MicroAstWeights } from '../src/index.ts';
import { microAstForward } from './support/tfMicroAst.ts';
import { imageStats, meanAbsDiff } from '../../../tests/support/imageStats.ts';

const loc = { mirror: process.env.NST_DATA_MIRROR, cacheDir: path.resolve('.tmp/data-cache') };

async function image(prefix: string, pick: (files: string[]) => string, width: number, height: number) {
  const root = await dataFolder(prefix, loc);
  const dir = path.join(root, prefix);
  const file = path.join(dir, pick((await readdir(dir)).sort()));
  return new Float32Array(await sharp(file).resize(width, height, { fit: 'fill' }).removeAlpha().raw().toBuffer());
}

const tensor = (data: Float32Array, w: number, h: number) => new ort.Tensor('float32', data, [1, h, w, 3]);
const strength = (a: number) => new ort.Tensor('float32', new Float32Array([a]), [1]);

let weights: MicroAstWeights;
beforeAll(async () => {
  const root = await dataFolder(MICROAST_PREFIX, loc);
  weights = await loadMicroAstWeights(root);
  await tf.setBackend('cpu');
});

describe('MicroAST', () => {
  it('imports all 471,987 parameters from the legacy torch.save files, and rejects a damaged file', async () => {
    expect(microAstParameterCount()).toBe(471_987);
    let n = 0;
    for (const w of weights.values()) n += w.length;
    expect(n).toBe(471_987);
    expect(() => readTorchLegacy(new Uint8Array(64), 'junk')).toThrow(/magic number/);
  });

  it('ONNX export matches a TF.js forward pass of the same weights on a real photo and painting, and stylises visibly', async () => {
    const [w, h] = [96, 64];
    const photo = await image('images/content/val/', (f) => f[3]!, w, h);
    const painting = await image('images/style/', (f) => f.find((x) => x.startsWith('starry'))!, 80, 80);
    const session = await ort.InferenceSession.create(exportMicroAstOnnx(weights));
    for (const alpha of [1, 0.5]) {
      const out = await session.run({ image: tensor(photo, w, h), style_image: tensor(painting, 80, 80), strength: strength(alpha) });
      const onnx = out.stylized!.data as Float32Array;
      expect(out.stylized!.dims).toEqual([1, h, w, 3]);
      const reference = tf.tidy(() => microAstForward(tf.tensor4d(photo, [1, h, w, 3]), tf.tensor4d(painting, [1, 80, 80, 3]), weights, alpha));
      const ref = (await reference.data()) as Float32Array;
      reference.dispose();
      let maxDiff = 0;
      for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ref[i]! - onnx[i]!));
      expect(maxDiff, `alpha ${alpha}`).toBeLessThan(0.1); // of 0..255: float32 rounding only
      if (alpha === 1) {
        const stats = imageStats(onnx, w, h);
        expect(stats.std).toBeGreaterThan(20);
        expect(stats.neighbourCorrelation).toBeGreaterThan(0.5);
        expect(meanAbsDiff(onnx, photo)).toBeGreaterThan(15);
      }
    }
    await session.release();
  });

  it('the style graph plus the content graph give the full graph, and the artefact reads back exactly', async () => {
    const [w, h] = [64, 48];
    const photo = await image('images/content/val/', (f) => f[7]!, w, h);
    const painting = await image('images/style/', (f) => f.find((x) => x.startsWith('the_scream'))!, 64, 64);
    const full = exportMicroAstOnnx(weights);
    const back = importMicroAstOnnx(full);
    for (const [name, v] of weights) expect(Buffer.from(back.get(name)!.buffer).equals(Buffer.from(v.buffer)), name).toBe(true);
    const [fullS, styleS, contentS] = await Promise.all([full, exportMicroAstOnnx(back, 'style'), exportMicroAstOnnx(back, 'content')].map((b) => ort.InferenceSession.create(b)));
    const whole = (await fullS!.run({ image: tensor(photo, w, h), style_image: tensor(painting, 64, 64), strength: strength(0.8) })).stylized!.data as Float32Array;
    const code = await styleS!.run({ style_image: tensor(painting, 64, 64) });
    expect(Object.keys(code).sort()).toEqual([...STYLE_CODE].sort());
    const split = (await contentS!.run({ image: tensor(photo, w, h), ...Object.fromEntries(STYLE_CODE.map((n) => [n, code[n]!])), strength: strength(0.8) })).stylized!.data as Float32Array;
    expect(meanAbsDiff(whole, split)).toBeLessThan(0.01);
    await Promise.all([fullS, styleS, contentS].map((s) => s!.release()));
  });
});
