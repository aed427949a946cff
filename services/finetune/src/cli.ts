/**
 * The fine-tuning command line, on the same code as the service:
 *
 *   cli.ts train --model model1 [--steps 200 | --epochs 1] [--batch-size 4] [--image-size 256] …
 *     trains one model from its live (or --version) weights on the platform's data, publishes
 *     the new version as --publish says and prints the result as one JSON line;
 *   cli.ts stylise (--model model1 [--version v] | --onnx file.onnx) --input photo.jpg --output out.png
 *     applies a stored version or an .onnx file to one image;
 *   cli.ts job
 *     a training run in its own Kubernetes Job: the envelope { id, model, params } in
 *     NST_TRAINING_JOB, progress on the shared volume (jobs/jobProgress.ts).
 *
 * Storage, data and model settings come from the environment as for the service
 * (NST_STORAGE_DIR, NST_DATA_MIRROR, NST_MODELS, NST_FINETUNE_BACKEND, …); options win.
 * Exit codes: 0 done, 1 the run failed, 2 bad usage, settings or envelope.
 */
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import * as ort from 'onnxruntime-node';
import { ConfigError, HttpError, ModelStore, ONNX_INPUT, ONNX_OUTPUT, createLogger, dataLocation, type OutputFormat } from '@nst/common';
import { OUTPUT_FORMATS, DATA_CHOICES, TRAINING_ENVELOPE_ENV, finetuneRequestSchema, type FinetuneRequest, type JobResult } from '@nst/contracts';
import { decodeForNetwork, encodeImage } from '@nst/network';
import { loadFinetuneConfig, type FinetuneConfig } from './config.ts';
import { FINETUNE_BACKENDS } from './engine/tfBackend.ts';
import { EnvelopeError, decodeEnvelope } from './jobs/envelope.ts';
import { writeProgress } from './jobs/jobProgress.ts';
import { newJob, type Job } from './jobs/jobQueue.ts';
import { prepareJob, type PreparedJob } from './jobs/prepare.ts';
import { describeIssues } from './jobs/request.ts';
import { runJob } from './jobs/runJob.ts';

class UsageError extends Error {}

const USAGE = `usage: cli.ts <command> [options]

  train    --model NAME [--version V] [--steps N | --epochs E] [--batch-size 4] [--image-size 256]
           [--learning-rate 0.001] [--style-weight 100] [--content-weight 7.5] [--tv-weight 200]
           [--data ${DATA_CHOICES.join('|')}] [--max-images N] [--heldout-images 4] [--seed 1]
           [--publish latest|none|canary] [--canary-percent 10] [--backend ${FINETUNE_BACKENDS.join('|')}]
           [--threads N] [--storage DIR] [--output FILE.onnx]
  stylise  (--model NAME [--version V] | --onnx FILE) --input IMAGE --output IMAGE
           [--max-side 1024] [--storage DIR]
  job      (reads ${TRAINING_ENVELOPE_ENV}; the Kubernetes Job's entry)
`;

const TRAIN_OPTIONS = {
  model: { type: 'string' },
  version: { type: 'string' },
  steps: { type: 'string' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  'image-size': { type: 'string' },
  'learning-rate': { type: 'string' },
  'style-weight': { type: 'string' },
  'content-weight': { type: 'string' },
  'tv-weight': { type: 'string' },
  data: { type: 'string' },
  'max-images': { type: 'string' },
  'heldout-images': { type: 'string' },
  seed: { type: 'string' },
  publish: { type: 'string' },
  'canary-percent': { type: 'string' },
  backend: { type: 'string' },
  threads: { type: 'string' },
  storage: { type: 'string' },
  output: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

const STYLISE_OPTIONS = {
  model: { type: 'string' },
  version: { type: 'string' },
  onnx: { type: 'string' },
  input: { type: 'string' },
  output: { type: 'string' },
  'max-side': { type: 'string' },
  storage: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

/** Numbers as numbers, so the request schema judges them as it judges a JSON body. */
const numeric = (v: string | undefined, flag: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${flag} must be a number, got "${v}"`);
  return n;
};

/** The command line as a POST /finetune body, checked by the same schema. */
function requestFromArgs(v: Partial<Record<keyof typeof TRAIN_OPTIONS, string>>): FinetuneRequest {
  const body = {
    model: v.model,
    version: v.version,
    steps: numeric(v.steps, 'steps'),
    epochs: numeric(v.epochs, 'epochs'),
    batch_size: numeric(v['batch-size'], 'batch-size'),
    image_size: numeric(v['image-size'], 'image-size'),
    learning_rate: numeric(v['learning-rate'], 'learning-rate'),
    style_weight: numeric(v['style-weight'], 'style-weight'),
    content_weight: numeric(v['content-weight'], 'content-weight'),
    tv_weight: numeric(v['tv-weight'], 'tv-weight'),
    data: v.data,
    max_images: numeric(v['max-images'], 'max-images'),
    heldout_images: numeric(v['heldout-images'], 'heldout-images'),
    seed: numeric(v.seed, 'seed'),
    publish: v.publish,
    canary_percent: numeric(v['canary-percent'], 'canary-percent'),
  };
  if (!body.model) throw new UsageError('--model is required');
  const parsed = finetuneRequestSchema.safeParse(Object.fromEntries(Object.entries(body).filter(([, x]) => x !== undefined)));
  if (!parsed.success) throw new UsageError(describeIssues(parsed.error));
  return parsed.data;
}

function settings(env: NodeJS.ProcessEnv, overrides: Record<string, string | undefined>): FinetuneConfig {
  const given = Object.fromEntries(Object.entries(overrides).filter(([, x]) => x !== undefined));
  return loadFinetuneConfig({ ...env, ...given });
}

/** A job record for a run outside the service's queue (the command line, a Kubernetes Job). */
function runRecord(id: string, model: string, runner: string): Job<PreparedJob | null> {
  const now = new Date().toISOString();
  return newJob({ id, model, params: null, runner, steps: 0, created_at: now, started_at: now, state: 'running', phase: 'preparing data' });
}

/** Prepares and runs one request exactly as the service's local runner does. */
async function trainOnce(config: FinetuneConfig, job: Job<PreparedJob | null>, request: FinetuneRequest, signal: AbortSignal, log: ReturnType<typeof createLogger>): Promise<JobResult> {
  const store = new ModelStore(config.NST_STORAGE_DIR);
  const loc = dataLocation(config);
  const params = await prepareJob(request, { store, models: config.NST_MODELS, storageDir: config.NST_STORAGE_DIR, loc });
  const prepared: Job<PreparedJob> = Object.assign(job, { params, steps: params.steps });
  return runJob(prepared, signal, { store, loc, backend: { prefer: config.NST_FINETUNE_BACKEND, threads: config.NST_FINETUNE_THREADS }, log });
}

const stopOnSignals = () => {
  const abort = new AbortController();
  for (const s of ['SIGTERM', 'SIGINT'] as const) process.once(s, () => abort.abort(new Error(`stopped by ${s}`)));
  return abort.signal;
};

async function train(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({ args: argv, options: TRAIN_OPTIONS, strict: true });
  const request = requestFromArgs(values);
  const config = settings(env, { NST_STORAGE_DIR: values.storage, NST_FINETUNE_BACKEND: values.backend, NST_FINETUNE_THREADS: values.threads });
  const log = createLogger('finetune-cli', config.LOG_LEVEL);
  const job = runRecord(`cli-${Date.now()}`, request.model, 'cli');
  let shown = 0;
  const progress = setInterval(() => {
    if (job.step === shown) return;
    shown = job.step;
    const loss = job.loss_history.at(-1)?.total;
    process.stderr.write(`${job.phase ?? ''} step ${job.step}/${job.steps}${loss === undefined ? '' : ` loss ${loss.toPrecision(5)}`}\n`);
  }, 1000);
  try {
    const result = await trainOnce(config, job, request, stopOnSignals(), log);
    if (values.output) await copyFile(new ModelStore(config.NST_STORAGE_DIR).onnxPath(request.model, result.version), values.output);
    console.log(JSON.stringify({ model: request.model, backend: job.backend, steps: job.steps, ...result, output: values.output ?? null }));
    return 0;
  } finally {
    clearInterval(progress);
  }
}

async function stylise(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({ args: argv, options: STYLISE_OPTIONS, strict: true });
  if (!values.input || !values.output) throw new UsageError('--input and --output are required');
  if (!values.onnx === !values.model) throw new UsageError('give --model (with --version, default the live one) or --onnx, one of the two');
  const format = (path.extname(values.output).slice(1).toLowerCase().replace('jpg', 'jpeg') || 'png') as OutputFormat;
  if (!OUTPUT_FORMATS.includes(format)) throw new UsageError(`--output must end in .${OUTPUT_FORMATS.join(', .')} or .jpg`);
  const maxSide = numeric(values['max-side'], 'max-side') ?? 1024;
  let onnxFile = values.onnx;
  if (values.model) {
    const config = settings(env, { NST_STORAGE_DIR: values.storage });
    const store = new ModelStore(config.NST_STORAGE_DIR);
    const version = values.version ?? (await store.latest(values.model));
    if (!version || !(await store.hasVersion(values.model, version))) throw new UsageError(`${values.model} has no version ${version ?? '(none is live)'} in ${config.NST_STORAGE_DIR}`);
    onnxFile = store.onnxPath(values.model, version);
  }
  const photo = await decodeForNetwork(await readFile(values.input), maxSide, 100_000_000);
  const session = await ort.InferenceSession.create(await readFile(onnxFile!));
  try {
    const out = await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', photo.data, [1, photo.height, photo.width, 3]) });
    await writeFile(values.output, await encodeImage(out[ONNX_OUTPUT]!.data as Float32Array, photo.width, photo.height, format));
  } finally {
    await session.release();
  }
  console.error(`stylised ${values.input} (${photo.width}x${photo.height}) with ${onnxFile} → ${values.output}`);
  return 0;
}

/** The Kubernetes Job's run: progress and outcome on the shared volume for the service that launched it. */
async function job(env: NodeJS.ProcessEnv): Promise<number> {
  const log = createLogger('finetune-job');
  let config: FinetuneConfig;
  let envelope;
  try {
    config = loadFinetuneConfig(env);
    envelope = decodeEnvelope(env[TRAINING_ENVELOPE_ENV]);
  } catch (err) {
    if (!(err instanceof EnvelopeError || err instanceof ConfigError)) throw err;
    log.fatal({ err }, err.message);
    return 2;
  }
  const nst = (state: string) => ({ event: 'training_job', model: envelope.model, job: { id: envelope.id, state } });
  log.info({ nst: nst('running'), params: envelope.params }, `training job ${envelope.id} started`);
  const record = runRecord(envelope.id, envelope.model, 'kubernetes');
  const report = setInterval(() => void writeProgress(config.NST_STORAGE_DIR, record), 2000);
  try {
    record.result = await trainOnce(config, record, envelope.params, stopOnSignals(), log);
    record.phase = 'done';
  } catch (err) {
    record.error = (err as Error).message;
  } finally {
    clearInterval(report);
    record.state = record.error ? 'failed' : 'succeeded';
    record.finished_at = new Date().toISOString();
    await writeProgress(config.NST_STORAGE_DIR, record);
  }
  const fields = { nst: nst(record.state), version: record.result?.version, published: record.result?.published, reason: record.result?.reason ?? record.error ?? undefined };
  if (record.error) log.error(fields, `training job ${record.id} failed: ${record.error}`);
  else log.info(fields, `training job ${record.id} succeeded`);
  return record.error ? 1 : 0;
}

async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'train') return await train(rest, env);
    if (command === 'stylise' || command === 'stylize') return await stylise(rest, env);
    if (command === 'job') return await job(env);
    if (command === undefined || command === '--help' || command === 'help') {
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    }
    throw new UsageError(`unknown command "${command}"`);
  } catch (err) {
    const usage = err instanceof UsageError || err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    // A refused request (unknown model, missing data) reads as the service's 4xx would.
    const refused = err instanceof HttpError && err.statusCode < 500;
    console.error(`finetune ${command ?? ''}: ${(err as Error).message}`);
    if (usage) console.error(USAGE);
    return usage || refused ? 2 : 1;
  }
}

// pino writes synchronously to stdout; nothing is lost by exiting now (worker threads would otherwise linger).
process.exit(await main(process.argv.slice(2)));
