/** The inference service: one process per style model, POST /infer runs its network. */
import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifySchemaValidationError } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { Counter, Gauge, Histogram } from 'prom-client';
import {
  CONTENT_TYPES,
  HttpError,
  ModelStore,
  StyleImages,
  abortedWhenClientLeaves,
  applyConnectionCap,
  applyStyleControls,
  createService,
  parseStyleControls,
  serverLimitOptions,
} from '@nst/common';
import { decodeForNetwork, encodeImage } from '@nst/network';
import {
  errorBodySchema,
  INFERENCE_PROGRESS_CONTENT_TYPE,
  inferBodySchema,
  inferImageSchema,
  inferQuerySchema,
  inferenceNotReadySchema,
  inferenceReadySchema,
  type InferResultHeaders,
  type ProgressLine,
} from '@nst/contracts';
import type { InferenceConfig } from './config.ts';
import { ModelVersions, UnknownVersionError } from './modelVersions.ts';
import { JobCancelledError, QueueFullError, WorkQueue } from './workQueue.ts';

export interface InferenceApp {
  app: FastifyInstance;
  versions: ModelVersions;
  /** Admission to the network: what runs and waits now. */
  queue: WorkQueue;
}

/** A 400's message: each problem once, named by its field unless its message already names it. */
function validationMessage(errors: FastifySchemaValidationError[]): Error {
  return new Error(
    errors
      .map((e) => {
        const field = e.instancePath.replace(/^\//, '').replaceAll('/', '.');
        return field && !e.message?.includes(field) ? `${field}: ${e.message}` : (e.message ?? 'invalid request');
      })
      .join('; '),
  );
}

export async function buildInferenceApp(config: InferenceConfig): Promise<InferenceApp> {
  const service = `inference-${config.NST_MODEL}`;
  const base = createService({ service, logLevel: config.LOG_LEVEL, bodyLimit: config.NST_MAX_UPLOAD_BYTES, fastify: serverLimitOptions(config) });
  base.setValidatorCompiler(validatorCompiler);
  base.setSerializerCompiler(serializerCompiler);
  const app = base.withTypeProvider<ZodTypeProvider>();
  applyConnectionCap(base, config);
  const store = new ModelStore(config.NST_STORAGE_DIR);
  const styles = new StyleImages(config.NST_STORAGE_DIR);
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
    kind: config.kind,
    tiling: config.tiling,
    maxPixels: config.NST_MAX_PIXELS,
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

  app.get('/ready', { schema: { response: { 200: inferenceReadySchema, 503: inferenceNotReadySchema } } }, async (_req, reply) => {
    const version = versions.liveVersion;
    if (!version) return reply.status(503).send({ status: 'loading', model });
    const failed = versions.loadFailure;
    return { status: 'ready' as const, model, style: config.style, kind: config.kind, version, loaded: versions.loadedVersions, ...(failed ? { failed } : {}) };
  });

  const limit = config.NST_MAX_SIDE_LIMIT;
  const querystring = inferQuerySchema.refine((q) => q.max_size === undefined || q.max_size <= limit, { error: `max_size must be an integer from 16 to ${limit}`, path: ['max_size'] });
  const errors = { 400: errorBodySchema, 404: errorBodySchema, 413: errorBodySchema, 415: errorBodySchema, 422: errorBodySchema, 499: errorBodySchema, 503: errorBodySchema };
  app.post('/infer', { schema: { querystring, body: inferBodySchema, response: { 200: inferImageSchema, ...errors } }, schemaErrorFormatter: validationMessage }, async (req, reply) => {
    const gone = abortedWhenClientLeaves(reply);
    const { query, body } = req;
    const controls = parseStyleControls(query);
    if ('error' in controls) throw new HttpError(400, controls.error);
    const maxSide = query.max_size ?? config.NST_MAX_SIDE_DEFAULT;
    const { format } = query;
    const version = query.version || undefined;
    const style = query.style || undefined;
    const progress = query.progress === '1';

    let styleImage: Uint8Array | undefined;
    if (config.kind === 'arbitrary') {
      if (!style) throw new HttpError(400, `${model} needs a style: the "style" id of an uploaded style image`);
      const found = await styles.read(style);
      if (!found) throw new HttpError(404, `no style image "${style}"`);
      styleImage = found.bytes;
    }
    const started = performance.now();
    const input = await decodeForNetwork(body, maxSide, config.NST_MAX_PIXELS);
    const decodedAt = performance.now();
    // MicroAST's AdaIN statistics are per image, so it is not tiled: its size is bounded instead.
    if (config.kind === 'arbitrary' && Math.max(input.width, input.height) > config.tiling.untiledMaxSide) {
      throw new HttpError(400, `${model} takes photos up to ${config.tiling.untiledMaxSide} px on the longest side; send max_size of at most ${config.tiling.untiledMaxSide}`);
    }
    let loaded;
    try {
      loaded = await versions.get(version);
    } catch (err) {
      if (err instanceof UnknownVersionError) throw new HttpError(version ? 404 : 503, err.message);
      throw err;
    }
    // In progress mode the answer starts streaming once the run is admitted.
    let stream: PassThrough | undefined;
    const line = (o: ProgressLine) => stream?.write(`${JSON.stringify(o)}\n`);
    let run;
    try {
      run = await queue.run(async () => {
        if (progress) {
          stream = new PassThrough();
          void reply.type(INFERENCE_PROGRESS_CONTENT_TYPE).send(stream);
        }
        const t = performance.now();
        const onTile = (done: number, total: number) => line({ tiles_done: done, tiles_total: total });
        const stylised = await loaded.run({ pixels: input.data, width: input.width, height: input.height, strength: controls.strength, style: styleImage, onProgress: onTile });
        const pixels = applyStyleControls(stylised, input.data, controls, !loaded.runner.appliesStrength);
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
      if (!stream) throw err;
      req.log.error({ err }, 'inference failed');
      const status = (err as HttpError).statusCode;
      line({ error: { statusCode: status ?? 500, message: status ? (err as Error).message : `inference failed: ${(err as Error).message}` } });
      stream.end();
      return reply;
    }
    queueSeconds.labels(model).observe(run.waitedMs / 1000);
    inferSeconds.labels(model, loaded.version).observe(run.result.ms / 1000);
    pixelsHist.labels(model, loaded.version).observe(input.width * input.height);
    const encodeStart = performance.now();
    let image: Buffer;
    try {
      image = await encodeImage(run.result.pixels, input.width, input.height, format);
    } catch (err) {
      if (!stream) throw err;
      req.log.error({ err }, 'encoding failed');
      line({ error: { statusCode: 500, message: `encoding the result failed: ${(err as Error).message}` } });
      stream.end();
      return reply;
    }
    const done = performance.now();
    const headers: InferResultHeaders = {
      'x-model': model,
      'x-model-version': loaded.version,
      'x-image-width': String(input.width),
      'x-image-height': String(input.height),
      'x-strength': String(controls.strength),
      'x-preserve-colors': String(controls.preserveColors),
      'x-timing-decode-ms': (decodedAt - started).toFixed(1),
      'x-timing-queue-ms': run.waitedMs.toFixed(1),
      'x-timing-inference-ms': run.result.ms.toFixed(1),
      'x-timing-encode-ms': (done - encodeStart).toFixed(1),
    };
    if (stream) {
      line({ result: headers, bytes: image.byteLength });
      stream.end(image);
      return reply;
    }
    return reply.type(CONTENT_TYPES[format]).headers(headers).send(image);
  });

  app.addHook('onClose', async () => versions.stop());
  return { app: base, versions, queue };
}
