/**
 * The training loop on onnxruntime: the same recipe as ml/trainingLoop.ts (batch order,
 * loss, Adam, held-out evaluation) with the forward and backward pass of each micro-batch
 * in one session.run of the generated training graph.
 */
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import { variableShapes, type StyleNetWeights } from '@nst/network';
import type { LossParts } from '@nst/contracts';
import { STYLE_LAYERS } from '../../ml/perceptualLoss.ts';
import { batches, type TrainingHooks, type TrainingInput, type TrainingOutput } from '../../ml/trainingLoop.ts';
import { Adam } from './adam.ts';
import { LOSS_OUTPUTS, PHOTOS, STYLE_IMAGE, buildStyleGramGraph, buildTrainingGraph, gradOutput, gramInput } from './trainingGraph.ts';

export interface OnnxEngineOptions {
  /** onnxruntime intra-op threads; default every core. */
  threads?: number;
  /** Pixels per session.run (see onnxMicroBatch). */
  microBatchPixels?: number;
}

export interface OnnxEngineInfo {
  backend: 'onnx';
  threads: number;
}

/**
 * Images per session.run. Natively there is no 4 GiB heap, but a 256² image still holds
 * a few hundred MiB of activations until its backward pass; beyond this many pixels a
 * batch runs in parts whose gradients add up.
 */
const MICRO_BATCH_PIXELS = 4 * 256 * 256;

/** Largest divisor of the batch within the pixel budget, so every part has one graph. */
export function onnxMicroBatch(batchSize: number, imageSize: number, budget = MICRO_BATCH_PIXELS): number {
  const limit = Math.max(1, Math.floor(budget / (imageSize * imageSize)));
  for (let m = Math.min(batchSize, limit); m > 1; m--) if (batchSize % m === 0) return m;
  return 1;
}

export function onnxEngineInfo(opts: OnnxEngineOptions = {}): OnnxEngineInfo {
  return { backend: 'onnx', threads: Math.max(1, opts.threads ?? os.availableParallelism()) };
}

function sessionOptions(threads: number): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // Unused-initializer notices and the like are not the caller's concern.
    logSeverityLevel: 3,
  };
}

const tensor = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);

function weightFeeds(weights: StyleNetWeights): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, shape] of variableShapes()) feeds[name] = tensor(weights.get(name)!, shape);
  return feeds;
}

function readLoss(out: ort.InferenceSession.ReturnType): LossParts {
  const [style, content, tv, total] = LOSS_OUTPUTS.map((k) => (out[k]!.data as Float32Array)[0]!);
  return { style: style!, content: content!, tv: tv!, total: total! };
}

function stack(photos: Float32Array[], indices: number[], size: number): Float32Array {
  const data = new Float32Array(indices.length * size * size * 3);
  indices.forEach((idx, i) => data.set(photos[idx]!, i * size * size * 3));
  return data;
}

export async function trainOnnx(input: TrainingInput, hooks: TrainingHooks = {}, opts: OnnxEngineOptions = {}): Promise<TrainingOutput> {
  const { params } = input;
  const size = params.imageSize;
  const { threads } = onnxEngineInfo(opts);
  const options = sessionOptions(threads);
  const weights: StyleNetWeights = new Map([...input.weights].map(([k, v]) => [k, v.slice()]));
  const sessions: ort.InferenceSession[] = [];
  const open = async (model: Uint8Array) => {
    const s = await ort.InferenceSession.create(model, options);
    sessions.push(s);
    return s;
  };
  try {
    const gramSession = await open(buildStyleGramGraph(input.style.height, input.style.width, input.vgg));
    const gramOut = await gramSession.run({ [STYLE_IMAGE]: tensor(input.style.data, [1, input.style.height, input.style.width, 3]) });
    const gramFeeds: Record<string, ort.Tensor> = {};
    for (const l of STYLE_LAYERS) gramFeeds[gramInput(l)] = gramOut[gramInput(l)]!;

    let evalSession: ort.InferenceSession | undefined;
    const evaluate = async (photos: Float32Array[]): Promise<LossParts> => {
      const sum: LossParts = { total: 0, style: 0, content: 0, tv: 0 };
      if (photos.length === 0) return sum;
      evalSession ??= await open(buildTrainingGraph({ batch: 1, height: size, width: size, loss: params.weights, vgg: input.vgg, evaluateOnly: true }));
      const feeds = { ...weightFeeds(weights), ...gramFeeds };
      for (const p of photos) {
        const parts = readLoss(await evalSession.run({ ...feeds, [PHOTOS]: tensor(p, [1, size, size, 3]) }));
        for (const k of ['total', 'style', 'content', 'tv'] as const) sum[k] += parts[k] / photos.length;
      }
      return sum;
    };

    hooks.onPhase?.('evaluating_parent');
    const parent = await evaluate(input.heldOut);
    hooks.onPhase?.('training');
    const micro = onnxMicroBatch(params.batchSize, size, opts.microBatchPixels);
    const trainSession = await open(buildTrainingGraph({ batch: micro, height: size, width: size, loss: params.weights, vgg: input.vgg }));
    const adam = new Adam(params.learningRate);
    const next = batches(input.photos.length, params.batchSize, params.seed);
    const stepSeconds: number[] = [];
    for (let step = 1; step <= params.steps; step++) {
      const started = performance.now();
      const batch = next();
      const feeds = { ...weightFeeds(weights), ...gramFeeds };
      const grads = new Map<string, Float32Array>();
      const sums: LossParts = { total: 0, style: 0, content: 0, tv: 0 };
      for (let i = 0; i < batch.length; i += micro) {
        // The graph's loss is the mean over its images; parts weigh in by their share.
        const share = micro / batch.length;
        const out = await trainSession.run({ ...feeds, [PHOTOS]: tensor(stack(input.photos, batch.slice(i, i + micro), size), [micro, size, size, 3]) });
        const parts = readLoss(out);
        for (const k of ['total', 'style', 'content', 'tv'] as const) sums[k] += parts[k] * share;
        for (const name of weights.keys()) {
          const g = out[gradOutput(name)]!.data as Float32Array;
          const acc = grads.get(name);
          if (!acc) grads.set(name, share === 1 ? g : g.map((v) => v * share));
          else for (let j = 0; j < g.length; j++) acc[j] = acc[j]! + g[j]! * share;
        }
      }
      adam.step(weights, grads);
      const seconds = (performance.now() - started) / 1000;
      stepSeconds.push(seconds);
      await hooks.onStep?.({ step, steps: params.steps, loss: sums, seconds });
    }
    hooks.onPhase?.('evaluating_trained');
    const trained = await evaluate(input.heldOut);
    return { weights, heldOut: { parent, trained }, stepSeconds };
  } finally {
    await Promise.all(sessions.map((s) => s.release()));
  }
}
