/** One fine-tuning job from prepared inputs to a published version. */
import { readFile } from 'node:fs/promises';
import { ModelStore, type DataLocation } from '@nst/common';
import { importOnnx } from '@nst/network';
import { publishVersion } from './publish.ts';
import { datasetHash, decodeAll, decodeStyle } from '../ml/dataset.ts';
import { trainInWorker } from '../engine/trainInWorker.ts';
import type { BackendOptions } from '../engine/tfBackend.ts';
import { loadVgg19Weights } from '../ml/vgg19.ts';
import { CONTENT_LAYER, STYLE_LAYERS } from '../ml/perceptualLoss.ts';
import type { JobResult } from '@nst/contracts';
import type { Job } from './jobQueue.ts';
import type { PreparedJob } from './prepare.ts';

/** Longest side of the style painting fed to VGG for the Gram targets. */
const STYLE_SIDE = 512;
/** Loss history kept per job and card: about this many points, evenly spaced. */
const HISTORY_POINTS = 500;

export interface RunContext {
  store: ModelStore;
  loc: DataLocation;
  backend: BackendOptions;
  onStepSeconds?: (model: string, seconds: number) => void;
  /** Where the backend choice is logged (pino or Fastify's logger). */
  log?: { info: (fields: object, message: string) => void };
}

export async function runJob(job: Job<PreparedJob>, signal: AbortSignal, ctx: RunContext): Promise<JobResult> {
  const started = performance.now();
  const p = job.params;
  const r = p.request;
  job.phase = 'preparing data';
  const train = await decodeAll(p.files, r.image_size);
  if (train.photos.length < r.batch_size) {
    throw new Error(`too few usable images after decoding: ${train.photos.length} (${train.skipped} undecodable) for batch_size ${r.batch_size}`);
  }
  const heldOut = await decodeAll(p.heldOut, r.image_size);
  if (heldOut.photos.length === 0) throw new Error('no held-out photo could be decoded');
  const style = await decodeStyle(ctx.store.styleImagePath(p.spec.name), STYLE_SIDE);
  const weights = importOnnx(await readFile(ctx.store.onnxPath(p.spec.name, p.parentVersion)));
  const vgg = await loadVgg19Weights(ctx.loc);
  signal.throwIfAborted();

  const every = Math.max(1, Math.ceil(p.steps / HISTORY_POINTS));
  let emaSeconds: number | null = null;
  let backendReason: string | null = null;
  job.phase = 'starting training worker';
  const output = await trainInWorker(
    {
      weights,
      vgg,
      style,
      photos: train.photos,
      heldOut: heldOut.photos,
      params: {
        steps: p.steps,
        batchSize: r.batch_size,
        imageSize: r.image_size,
        learningRate: r.learning_rate,
        weights: { style: r.style_weight, content: r.content_weight, tv: r.tv_weight },
        seed: r.seed,
      },
    },
    ctx.backend,
    {
      onBackend: (info) => {
        backendReason = info.reason;
        job.backend = `${info.backend} (${info.threads} thread${info.threads === 1 ? '' : 's'})`;
        ctx.log?.info({ nst: { event: 'training_backend', model: p.spec.name, job: { id: job.id }, backend: info.backend } }, `training backend ${job.backend}: ${info.reason}`);
      },
      onPhase: (phase) => {
        job.phase = phase.replace('_', ' ');
      },
      onStep: ({ step, loss, seconds }) => {
        job.step = step;
        if (step === 1 || step === p.steps || step % every === 0) job.loss_history.push({ step, ...loss });
        // The first step includes warm-up (kernel set-up); later ones give the rate.
        emaSeconds = step <= 2 || emaSeconds === null ? seconds : 0.8 * emaSeconds + 0.2 * seconds;
        job.seconds_per_step = emaSeconds;
        job.eta_seconds = Math.round(emaSeconds * (p.steps - step));
        ctx.onStepSeconds?.(p.spec.name, seconds);
      },
    },
    signal,
  );

  job.phase = 'publishing';
  const used = train.used;
  const stepSeconds = output.stepSeconds;
  const meanSeconds = stepSeconds.length > 1 ? stepSeconds.slice(1).reduce((a, b) => a + b, 0) / (stepSeconds.length - 1) : stepSeconds[0];
  return publishVersion({
    store: ctx.store,
    model: p.spec.name,
    parentVersion: p.parentVersion,
    weights: output.weights,
    heldout: output.heldOut,
    publish: r.publish,
    jobId: job.id,
    training: {
      job_id: job.id,
      parent: p.parentVersion,
      params: {
        steps: p.steps,
        epochs: r.epochs ?? null,
        batch_size: r.batch_size,
        image_size: r.image_size,
        learning_rate: r.learning_rate,
        style_weight: r.style_weight,
        content_weight: r.content_weight,
        tv_weight: r.tv_weight,
        data: r.data,
        max_images: r.max_images ?? null,
        heldout_images: r.heldout_images,
        seed: r.seed,
        optimizer: 'adam',
        loss: { network: 'vgg19', style_layers: STYLE_LAYERS, content_layer: CONTENT_LAYER, style_image_side: STYLE_SIDE },
      },
      dataset: {
        size: used.length,
        sha256: datasetHash(used),
        curated_uploads: used.filter((f) => f.origin === 'feedback').length,
        base_photos: used.filter((f) => f.origin === 'base').length,
        undecodable_skipped: p.undecodable + train.skipped,
        feedback: { duplicates: p.curated.duplicates, missing: p.curated.missing, malformed: p.curated.malformed },
        heldout: { size: heldOut.used.length, sha256: datasetHash(heldOut.used) },
      },
      backend: job.backend,
      backend_reason: backendReason,
      wall_seconds: Math.round((performance.now() - started) / 100) / 10,
      seconds_per_step: meanSeconds,
      loss_history: job.loss_history,
    },
  });
}
