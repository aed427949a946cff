/**
 * The training loop: Adam on the style network's weights against the perceptual loss,
 * plus the held-out evaluation of the parent and the trained weights. Runs wherever TF.js
 * is initialised (the training worker; tests and the benchmark call it directly).
 */
import * as tf from '@tensorflow/tfjs';
import type { StyleNetWeights } from '@nst/network';
import { styleNetForward, tensorsToWeights, weightsToTensors, type TensorWeights } from './tfStyleNet.ts';
import type { LossParts } from '@nst/contracts';
import { contentTarget, perceptualLoss, styleTargets, type LossWeights } from './perceptualLoss.ts';
import { Vgg19, type VggLayer, type VggWeights } from './vgg19.ts';

interface TrainingParams {
  steps: number;
  batchSize: number;
  imageSize: number;
  learningRate: number;
  weights: LossWeights;
  /** Seed of the batch order, so a run can be repeated. */
  seed: number;
}

/** An RGB image, HWC float32 0..255. */
export interface Pixels {
  data: Float32Array;
  width: number;
  height: number;
}

export interface TrainingInput {
  weights: StyleNetWeights;
  vgg: VggWeights;
  style: Pixels;
  /** Training photos, each imageSize × imageSize. */
  photos: Float32Array[];
  /** Held-out photos, same size; evaluated, never trained on. */
  heldOut: Float32Array[];
  params: TrainingParams;
}

export interface StepReport {
  step: number;
  steps: number;
  loss: LossParts;
  seconds: number;
}

export interface TrainingOutput {
  weights: StyleNetWeights;
  heldOut: { parent: LossParts; trained: LossParts };
  stepSeconds: number[];
}

export interface TrainingHooks {
  onStep?: (r: StepReport) => void | Promise<void>;
  onPhase?: (phase: 'evaluating_parent' | 'training' | 'evaluating_trained') => void;
}

/** Small deterministic PRNG (mulberry32) for the batch order. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Endless shuffled passes over the photo indices, batchSize at a time. */
export function batches(count: number, batchSize: number, seed: number): () => number[] {
  const rand = random(seed);
  let order: number[] = [];
  return () => {
    const batch: number[] = [];
    while (batch.length < batchSize) {
      if (order.length === 0) {
        order = Array.from({ length: count }, (_, i) => i);
        for (let i = order.length - 1; i > 0; i--) {
          const j = Math.floor(rand() * (i + 1));
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
      }
      batch.push(order.pop()!);
    }
    return batch;
  };
}

function stack(photos: Float32Array[], indices: number[], size: number): tf.Tensor4D {
  const data = new Float32Array(indices.length * size * size * 3);
  indices.forEach((idx, i) => data.set(photos[idx]!, i * size * size * 3));
  return tf.tensor4d(data, [indices.length, size, size, 3]);
}

async function readParts(parts: { total: tf.Scalar; style: tf.Scalar; content: tf.Scalar; tv: tf.Scalar }): Promise<LossParts> {
  const [total, style, content, tv] = await Promise.all([parts.total.data(), parts.style.data(), parts.content.data(), parts.tv.data()]);
  return { total: total[0]!, style: style[0]!, content: content[0]!, tv: tv[0]! };
}

/**
 * Images per forward/backward pass: the wasm heap is capped at 4 GiB and a 256² image
 * holds a few hundred MiB of activations for the backward pass.
 */
function microBatchSize(batchSize: number, imageSize: number): number {
  const budget = 2 * 256 * 256;
  return Math.max(1, Math.min(batchSize, Math.floor(budget / (imageSize * imageSize))));
}

/** Mean weighted loss terms of the network over photos, one at a time. */
async function evaluate(
  vars: TensorWeights,
  vgg: Vgg19,
  photos: Float32Array[],
  size: number,
  grams: Map<VggLayer, tf.Tensor3D>,
  weights: LossWeights,
): Promise<LossParts> {
  const sum: LossParts = { total: 0, style: 0, content: 0, tv: 0 };
  for (let i = 0; i < photos.length; i++) {
    const scalars = tf.tidy(() => {
      const x = stack(photos, [i], size);
      const parts = perceptualLoss(vgg, styleNetForward(x, vars), contentTarget(vgg, x), grams, weights);
      return [parts.total, parts.style, parts.content, parts.tv];
    });
    const p = await readParts({ total: scalars[0]!, style: scalars[1]!, content: scalars[2]!, tv: scalars[3]! });
    tf.dispose(scalars);
    for (const k of ['total', 'style', 'content', 'tv'] as const) sum[k] += p[k] / photos.length;
  }
  return sum;
}

/** What a gradient computation needs besides the weights. */
interface GradientContext {
  vgg: Vgg19;
  vars: TensorWeights;
  grams: Map<VggLayer, tf.Tensor3D>;
  photos: Float32Array[];
  params: TrainingParams;
}

interface Gradients {
  grads: tf.NamedTensorMap;
  /** The batch's mean loss terms. */
  sums: LossParts;
}

/**
 * Gradient of the mean loss over `indices`. The loss is a mean over images (instance norm
 * keeps them independent), so gradients of micro-batches, weighted by their share, add up
 * to the whole batch's gradient.
 */
async function batchGradients(ctx: GradientContext, indices: number[]): Promise<Gradients> {
  const { vgg, vars, grams, params } = ctx;
  const size = params.imageSize;
  const micro = microBatchSize(indices.length, size);
  const varList = [...vars.values()] as tf.Variable[];
  let grads: tf.NamedTensorMap | null = null;
  const sums = { total: 0, style: 0, content: 0, tv: 0 };
  for (let i = 0; i < indices.length; i += micro) {
    const part = indices.slice(i, i + micro);
    const partShare = part.length / indices.length;
    const x = stack(ctx.photos, part, size);
    const content = contentTarget(vgg, x);
    const kept: tf.Scalar[] = [];
    const { grads: g, value } = tf.variableGrads(() => {
      const p = perceptualLoss(vgg, styleNetForward(x, vars), content, grams, params.weights);
      kept.push(tf.keep(p.style), tf.keep(p.content), tf.keep(p.tv));
      return tf.mul(p.total, partShare) as tf.Scalar;
    }, varList);
    const [style, contentLoss, tv] = await Promise.all(kept.map(async (t) => (await t.data())[0]!));
    sums.style += style! * partShare;
    sums.content += contentLoss! * partShare;
    sums.tv += tv! * partShare;
    tf.dispose([x, content, value, ...kept]);
    if (grads) {
      const previous: tf.NamedTensorMap = grads;
      grads = Object.fromEntries(Object.entries(g).map(([k, v]) => [k, tf.add(previous[k]!, v)]));
      tf.dispose([...Object.values(previous), ...Object.values(g)]);
    } else {
      grads = g;
    }
  }
  sums.total = sums.style + sums.content + sums.tv;
  return { grads: grads!, sums };
}

export async function train(input: TrainingInput, hooks: TrainingHooks = {}): Promise<TrainingOutput> {
  const { params } = input;
  const size = params.imageSize;
  const vgg = new Vgg19(input.vgg);
  const vars = weightsToTensors(input.weights, true);
  const style = tf.tensor4d(input.style.data, [1, input.style.height, input.style.width, 3]);
  const grams = styleTargets(vgg, style);
  style.dispose();
  const optimizer = tf.train.adam(params.learningRate);
  const ctx: GradientContext = { vgg, vars, grams, photos: input.photos, params };
  try {
    hooks.onPhase?.('evaluating_parent');
    const parent = await evaluate(vars, vgg, input.heldOut, size, grams, params.weights);
    hooks.onPhase?.('training');
    const next = batches(input.photos.length, params.batchSize, params.seed);
    const stepSeconds: number[] = [];
    for (let step = 1; step <= params.steps; step++) {
      const started = performance.now();
      const batch = next();
      const result = await batchGradients(ctx, batch);
      optimizer.applyGradients(result.grads as Parameters<typeof optimizer.applyGradients>[0]);
      tf.dispose(Object.values(result.grads));
      const seconds = (performance.now() - started) / 1000;
      stepSeconds.push(seconds);
      await hooks.onStep?.({ step, steps: params.steps, loss: result.sums, seconds });
    }
    hooks.onPhase?.('evaluating_trained');
    const trained = await evaluate(vars, vgg, input.heldOut, size, grams, params.weights);
    return { weights: await tensorsToWeights(vars), heldOut: { parent, trained }, stepSeconds };
  } finally {
    optimizer.dispose();
    tf.dispose([...vars.values()]);
    tf.dispose([...grams.values()]);
    vgg.dispose();
  }
}
