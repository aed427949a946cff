/** The inference service: one process per style model, POST /infer runs its network. */
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram } from 'prom-client';
import {
  CONTENT_TYPES,
  HttpError,
  ModelStore,
  OUTPUT_FORMATS,
  abortedWhenClientLeaves,
  applyConnectionCap,
  createService,
  decodeForNetwork,
  encodeImage,
  serverLimitOptions,
  type OutputFormat,
} from '@nst/common';
import type { InferenceConfig } from './config.ts';
import { ModelVersions, UnknownVersionError } from './modelVersions.ts';
import { JobCancelledError, QueueFullError, WorkQueue } from './workQueue.ts';

export interface InferenceApp {
  app: FastifyInstance;
  versions: ModelVersions;
}

function parseOptions(query: Record<string, string | undefined>, config: InferenceConfig) {
  const maxSide = query.max_size === undefined ? config.NST_MAX_SIDE_DEFAULT : Number(query.max_size);
  if (!Number.isInteger(maxSide) || maxSide < 16 || maxSide > config.NST_MAX_SIDE_LIMIT) {
    throw new HttpError(400, `max_size must be an integer from 16 to ${config.NST_MAX_SIDE_LIMIT}`);
  }
  const format = (query.format ?? 'png') as OutputFormat;
  if (!OUTPUT_FORMATS.includes(format)) throw new HttpError(400, `format must be one of ${OUTPUT_FORMATS.join(', ')}`);
  return { maxSide, format, version: query.version || undefined };
}

export async function buildInferenceApp(config: InferenceConfig): Promise<InferenceApp> {
  const service = `inference-${config.NST_MODEL}`;
  const app = createService({ service, logLevel: config.LOG_LEVEL, bodyLimit: config.NST_MAX_UPLOAD_BYTES, fastify: serverLimitOptions(config) });
  applyConnectionCap(app, config);
  const store = new ModelStore(config.NST_STORAGE_DIR);
  const model = config.NST_MODEL;
  const registers = [app.metrics];

  const inferSeconds = new Histogram({
    name: 'nst_inference_duration_seconds',
    help: 'Network run time per image, by model and version',
    labelNames: ['model', 'version'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16],
    registers,
  });
  const pixelsHist = new Histogram({
    name: 'nst_inference_image_pixels',
    help: 'Pixels per stylised image, by model and version',
    labelNames: ['model', 'version'] as const,
    buckets: [65536, 262144, 524288, 1048576, 2097152, 4194304],
    registers,
  });
  const queueSeconds = new Histogram({
    name: 'nst_inference_queue_seconds',
    help: 'Time a request waited for a free inference slot',
    labelNames: ['model'] as const,
    buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10],
    registers,
  });
  const rejected = new Counter({ name: 'nst_inference_rejected_total', help: 'Requests refused because the queue was full', labelNames: ['model'] as const, registers });
  const cancelled = new Counter({ name: 'nst_inference_cancelled_total', help: 'Queued requests dropped because their client went away', labelNames: ['model'] as const, registers });
  const loadFailures = new Counter({ name: 'nst_model_load_failures_total', help: 'Versions not switched to: artefact does not match its card, or does not load', labelNames: ['model', 'version'] as const, registers });
  const queue = new WorkQueue(config.NST_INFER_CONCURRENCY, config.NST_QUEUE_SIZE);
  new Gauge({
    name: 'nst_inference_queue_depth',
    help: 'Requests waiting for an inference slot',
    labelNames: ['model'] as const,
    registers,
    collect() {
      this.set({ model }, queue.depth);
    },
  });
  new Gauge({
    name: 'nst_inference_running',
    help: 'Requests running the network now',
    labelNames: ['model'] as const,
    registers,
    collect() {
      this.set({ model }, queue.active);
    },
  });
  const loadSeconds = new Histogram({ name: 'nst_model_load_seconds', help: 'Time to load a model version', labelNames: ['model', 'version'] as const, registers });

  const versions = new ModelVersions({
    store,
    model,
    threads: config.threads,
    memArena: config.NST_ORT_MEM_ARENA,
    extraVersions: config.NST_EXTRA_VERSIONS,
    reloadIntervalMs: config.NST_RELOAD_INTERVAL_MS,
    log: app.log,
    onLoaded: (version, ms) => loadSeconds.labels(model, version).observe(ms / 1000),
    onLoadFailed: (version) => loadFailures.labels(model, version).inc(),
  });
  new Gauge({
    name: 'nst_model_live_info',
    help: 'The live version of the model served by this process (value 1)',
    labelNames: ['model', 'version'] as const,
    registers,
    collect() {
      this.reset();
      if (versions.liveVersion) this.set({ model, version: versions.liveVersion }, 1);
    },
  });

  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: config.NST_MAX_UPLOAD_BYTES }, (_req, body, done) => done(null, body));

  app.get('/ready', async (_req, reply) => {
    const version = versions.liveVersion;
    if (!version) return reply.status(503).send({ status: 'loading', model });
    const failed = versions.loadFailure;
    return { status: 'ready', model, style: config.style, version, loaded: versions.loadedVersions, ...(failed ? { failed } : {}) };
  });

  app.post('/infer', async (req, reply) => {
    const gone = abortedWhenClientLeaves(reply);
    const { maxSide, format, version } = parseOptions(req.query as Record<string, string | undefined>, config);
    const body = req.body;
    if (!Buffer.isBuffer(body) || body.length === 0) throw new HttpError(400, 'the request body must be the image bytes');

    const started = performance.now();
    const input = await decodeForNetwork(body, maxSide, config.NST_MAX_PIXELS);
    const decodedAt = performance.now();
    let loaded;
    try {
      loaded = await versions.get(version);
    } catch (err) {
      if (err instanceof UnknownVersionError) throw new HttpError(version ? 404 : 503, err.message);
      throw err;
    }
    let run;
    try {
      run = await queue.run(async () => {
        const t = performance.now();
        const pixels = await loaded.run(input.data, input.width, input.height);
        return { pixels, ms: performance.now() - t };
      }, gone);
    } catch (err) {
      if (err instanceof JobCancelledError) {
        cancelled.labels(model).inc();
        throw new HttpError(499, `${model}: ${err.message}`);
      }
      if (err instanceof QueueFullError) {
        rejected.labels(model).inc();
        throw new HttpError(503, `${model} is busy: ${err.message}; retry shortly`, { 'retry-after': '1' });
      }
      throw err;
    }
    queueSeconds.labels(model).observe(run.waitedMs / 1000);
    inferSeconds.labels(model, loaded.version).observe(run.result.ms / 1000);
    pixelsHist.labels(model, loaded.version).observe(input.width * input.height);
    const encodeStart = performance.now();
    const image = await encodeImage(run.result.pixels, input.width, input.height, format);
    const done = performance.now();

    return reply
      .type(CONTENT_TYPES[format])
      .headers({
        'x-model': model,
        'x-model-version': loaded.version,
        'x-image-width': String(input.width),
        'x-image-height': String(input.height),
        'x-timing-decode-ms': (decodedAt - started).toFixed(1),
        'x-timing-queue-ms': run.waitedMs.toFixed(1),
        'x-timing-inference-ms': run.result.ms.toFixed(1),
        'x-timing-encode-ms': (done - encodeStart).toFixed(1),
      })
      .send(image);
  });

  app.addHook('onClose', async () => versions.stop());
  return { app, versions };
}
