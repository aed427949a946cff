/**
 * VGG19 blocks 1–3 (Keras ImageNet weights, TF.js layers-model format) as plain TF.js ops,
 * for the perceptual loss. Only the layers the loss reads are evaluated: the deeper layers'
 * weights are not part of the data sources at all.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { DataFileError, dataFolder, type DataLocation } from '@nst/common';

const VGG19_PREFIX = 'models/vgg19/';

/** Conv layers in order, with the ReLU output's conventional name; pools follow blocks 1 and 2. */
export const VGG19_LAYERS = [
  { conv: 'block1_conv1', relu: 'relu1_1', poolAfter: false },
  { conv: 'block1_conv2', relu: 'relu1_2', poolAfter: true },
  { conv: 'block2_conv1', relu: 'relu2_1', poolAfter: false },
  { conv: 'block2_conv2', relu: 'relu2_2', poolAfter: true },
  { conv: 'block3_conv1', relu: 'relu3_1', poolAfter: false },
  { conv: 'block3_conv2', relu: 'relu3_2', poolAfter: false },
  { conv: 'block3_conv3', relu: 'relu3_3', poolAfter: false },
  { conv: 'block3_conv4', relu: 'relu3_4', poolAfter: false },
] as const;
export type VggLayer = (typeof VGG19_LAYERS)[number]['relu'];

/** Keras "caffe" preprocessing subtracts BGR means [103.939, 116.779, 123.68] from BGR input. */
const RGB_MEAN = [123.68, 116.779, 103.939];

export class VggWeightsError extends Error {}

/** Per conv layer: HWIO kernel and bias, float32. Plain arrays so they can cross to a worker. */
export interface VggWeights {
  [conv: string]: { kernel: Float32Array; kernelShape: number[]; bias: Float32Array };
}

const manifestSchema = z.object({
  weightsManifest: z.array(
    z.object({
      paths: z.array(z.string()),
      weights: z.array(z.object({ name: z.string(), shape: z.array(z.number().int()), dtype: z.literal('float32') })),
    }),
  ),
});

/** Verified (sha256) local copies of the VGG19 files; throws VggWeightsError when any is missing or corrupt. */
export async function vgg19Folder(loc: DataLocation): Promise<string> {
  try {
    return path.join(await dataFolder(VGG19_PREFIX, loc), VGG19_PREFIX);
  } catch (err) {
    if (err instanceof DataFileError) throw new VggWeightsError(`VGG weights missing or corrupt: ${err.message}`);
    throw err;
  }
}

export async function loadVgg19Weights(loc: DataLocation): Promise<VggWeights> {
  const dir = await vgg19Folder(loc);
  const manifest = manifestSchema.parse(JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'))).weightsManifest;
  const wanted = new Set<string>(VGG19_LAYERS.map((l) => l.conv));
  const out: VggWeights = {};
  for (const group of manifest) {
    const layer = group.weights[0]?.name.split('/')[0];
    if (!layer || !wanted.has(layer)) continue;
    const bytes = Buffer.concat(await Promise.all(group.paths.map((p) => readFile(path.join(dir, p)))));
    let offset = 0;
    const arrays: Record<string, { data: Float32Array; shape: number[] }> = {};
    for (const w of group.weights) {
      const size = w.shape.reduce((a, b) => a * b, 1);
      const slice = bytes.subarray(offset, offset + size * 4);
      if (slice.byteLength !== size * 4) throw new VggWeightsError(`VGG weights missing or corrupt: ${layer} is truncated`);
      arrays[w.name.split('/')[1]!] = { data: new Float32Array(new Uint8Array(slice).buffer), shape: w.shape };
      offset += size * 4;
    }
    if (!arrays.kernel || !arrays.bias) throw new VggWeightsError(`VGG weights missing or corrupt: ${layer} lacks kernel or bias`);
    out[layer] = { kernel: arrays.kernel.data, kernelShape: arrays.kernel.shape, bias: arrays.bias.data };
  }
  for (const l of wanted) if (!out[l]) throw new VggWeightsError(`VGG weights missing or corrupt: ${l} is not in model.json`);
  return out;
}

/** The network as constant tensors; call dispose() when done. */
export class Vgg19 {
  private readonly kernels = new Map<string, tf.Tensor4D>();
  private readonly biases = new Map<string, tf.Tensor1D>();

  constructor(weights: VggWeights) {
    for (const l of VGG19_LAYERS) {
      const w = weights[l.conv]!;
      let kernel = tf.tensor4d(w.kernel, w.kernelShape as [number, number, number, number]);
      if (l.conv === 'block1_conv1') {
        // The weights expect BGR: reverse the kernel's input channels once, so RGB goes in directly.
        const bgr = kernel;
        kernel = tf.reverse(bgr, 2);
        bgr.dispose();
      }
      this.kernels.set(l.conv, kernel);
      this.biases.set(l.conv, tf.tensor1d(w.bias));
    }
  }

  /** x: RGB 0..255 [N,H,W,3] → the requested ReLU outputs; stops after the deepest one needed. */
  features(x: tf.Tensor4D, layers: readonly VggLayer[]): Map<VggLayer, tf.Tensor4D> {
    const wanted = new Set(layers);
    const out = new Map<VggLayer, tf.Tensor4D>();
    // Minus the ImageNet means (RGB order; the first kernel was flipped to RGB).
    let y = tf.sub(x, tf.tensor1d(RGB_MEAN)) as tf.Tensor4D;
    for (const l of VGG19_LAYERS) {
      if (out.size === wanted.size) break;
      y = tf.fused.conv2d({ x: y, filter: this.kernels.get(l.conv)!, strides: 1, pad: 'same', bias: this.biases.get(l.conv)!, activation: 'relu' });
      if (wanted.has(l.relu)) out.set(l.relu, y);
      if (l.poolAfter) y = tf.maxPool(y, 2, 2, 'valid');
    }
    return out;
  }

  dispose(): void {
    for (const t of [...this.kernels.values(), ...this.biases.values()]) t.dispose();
  }
}
