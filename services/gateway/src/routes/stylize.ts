/** POST /api/stylize (and the seed's /stylize): upload in, stylised image stored, JSON out. */
import { createReadStream } from 'node:fs';
import { PassThrough } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpError, abortedWhenClientLeaves, checkBearer, parseStyleControls, probeImage } from '@nst/common';
import { stylizeFieldsSchema, stylizeFormSchema, stylizeResponseSchema, type StylizeFields, type StylizeResult } from '@nst/contracts';
import type { GatewayContext } from '../context.ts';
import { saveStyleImage } from './styles.ts';
import { clientIdOf } from '../clientId.ts';
import { requireKnownModel } from '../knownModel.ts';
import { errorResponses, streamedBody, type GatewayApp } from '../typedRoutes.ts';
import { UploadSlots, readUploadForm } from '../uploadForm.ts';

/** The form's text fields, each checked by the handler (a missing model has its own message). */
const formFields = stylizeFieldsSchema.partial();
const FIELDS = new Set(Object.keys(stylizeFieldsSchema.shape));
/** Besides the photo, an arbitrary-style model's painting may come in the same request. */
const EXTRA_FILES = new Set(['style_image']);

/** Accept header asking for progress lines before the result (see the route's description). */
export const PROGRESS_STREAM_TYPE = 'application/x-ndjson';

export function stylizeRoutes(app: GatewayApp, ctx: GatewayContext, adminToken?: string): void {
  const { config, metrics } = ctx;
  const slots = new UploadSlots(config.NST_MAX_CONCURRENT_UPLOADS);
  const isAdmin = (req: FastifyRequest) => {
    if (!adminToken || !req.headers.authorization) return false;
    checkBearer(req.headers.authorization, adminToken);
    return true;
  };
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const streaming = String(req.headers.accept ?? '').includes(PROGRESS_STREAM_TYPE);
    if (!streaming) return stylise(req, reply);
    // Progress mode: errors found before the work starts are plain HTTP errors; from then on
    // the answer is a stream of JSON lines ending with {"result": …} or {"error": …}.
    let stream: PassThrough | undefined;
    const line = (o: unknown) => stream?.write(`${JSON.stringify(o)}\n`);
    const start = () => {
      stream = new PassThrough();
      void reply.type(PROGRESS_STREAM_TYPE).send(stream);
    };
    try {
      const result = await stylise(req, reply, { start, progress: (done, total) => line({ tiles_done: done, tiles_total: total }) });
      if (!stream) return result;
      line({ result });
    } catch (err) {
      if (!stream) throw err;
      const e = err as HttpError;
      line({ error: { statusCode: e.statusCode ?? 500, message: e.statusCode ? e.message : 'internal error' } });
      if (!e.statusCode) req.log.error({ err }, 'stylise failed');
    }
    stream.end();
    return reply;
  };

  type Progress = { start(): void; progress(done: number, total: number): void };
  const stylise = async (req: FastifyRequest, reply: FastifyReply, progress?: Progress) => {
    const started = performance.now();
    const upload = await readUploadForm(req, {
      dir: ctx.images.inputDir,
      fields: FIELDS,
      extraFiles: EXTRA_FILES,
      slots,
      // A model at capacity is refused before its upload is stored (clients send the model first).
      beforeFile: (f) => f.model && ctx.modelNames.has(f.model) && ctx.inference.checkCapacity(f.model),
    });
    try {
      const fields = formFields.safeParse(upload.fields);
      if (!fields.success) throw new HttpError(400, fields.error.issues[0]!.message);
      return await stylize(req, reply, started, fields.data, upload.imagePath, upload.imageBytes, upload.extraFiles.style_image, progress);
    } finally {
      await upload.discard();
    }
  };
  const stylize = async (
    req: FastifyRequest,
    reply: FastifyReply,
    started: number,
    form: Partial<StylizeFields>,
    imagePath: string | null,
    imageBytes: number,
    styleImage: Buffer | undefined,
    progress?: Progress,
  ): Promise<StylizeResult> => {
    const gone = abortedWhenClientLeaves(reply);
    const uploadedAt = performance.now();
    if (!imagePath || imageBytes === 0) throw new HttpError(400, 'missing "image": attach the photo as a file field named "image"');
    if (!form.model) throw new HttpError(400, 'missing "model": name one of the models from GET /api/models');
    const model = requireKnownModel(ctx.modelNames, form.model);
    let maxSide: number | undefined;
    if (form.max_size !== undefined && form.max_size !== '') {
      maxSide = Number(form.max_size);
      if (!Number.isInteger(maxSide) || maxSide < 16 || maxSide > config.NST_MAX_SIDE_LIMIT) {
        throw new HttpError(400, `max_size must be an integer from 16 to ${config.NST_MAX_SIDE_LIMIT}`);
      }
    }
    const format = form.format ?? 'png';
    const controls = parseStyleControls(form);
    if ('error' in controls) throw new HttpError(400, controls.error);

    const arbitrary = ctx.arbitraryModels.has(model);
    if (!arbitrary && (form.style || styleImage)) throw new HttpError(400, `model ${model} has its own style; "style" and "style_image" are for an arbitrary-style model`);
    if (arbitrary && !form.style === !styleImage) throw new HttpError(400, `model ${model} needs a painting: send either a "style" id from POST /api/styles or a "style_image" file`);
    if (form.style && !(await ctx.styles.get(form.style))) throw new HttpError(404, `no style image "${form.style}"; upload one with POST /api/styles`);

    const info = await probeImage(imagePath, config.NST_MAX_PIXELS);
    const style = styleImage ? (await saveStyleImage(ctx, styleImage)).id : form.style;
    const pinned = req.headers['x-model-version'];
    const clientId = clientIdOf(req, reply);
    const { version, reason } = await ctx.resolver.resolve(model, {
      pinned: typeof pinned === 'string' && pinned ? pinned : undefined,
      clientId,
      mayPinAny: typeof pinned === 'string' && pinned !== '' && isAdmin(req),
    });
    const inputName = ctx.images.newInputName(info.format);
    await ctx.images.keepInput(inputName, imagePath);
    let result;
    progress?.start();
    try {
      // The live version is the one the inference service serves: it switches only to a version it verified.
      result = await ctx.inference.infer({ model, version: reason === 'live' ? undefined : version, image: () => createReadStream(ctx.images.inputPath(inputName)),
        maxSide,
        format,
        requestId: String(req.id),
        signal: gone,
        controls,
        style,
        onProgress: progress?.progress,
      });
    } catch (err) {
      metrics.stylizeRequests.labels(model, version, String((err as HttpError).statusCode ?? 500)).inc();
      await ctx.images.removeInput(inputName);
      throw err;
    }
    const forwardedAt = performance.now();
    const outputName = ctx.images.newOutputName(format);
    await ctx.images.saveResult(inputName, outputName, result.image, {
      model,
      version: result.version,
      content_image_filename: inputName,
      width: result.width,
      height: result.height,
      created_at: new Date().toISOString(),
      request_id: String(req.id),
      client_id: clientId,
      strength: controls.strength,
      preserve_colors: controls.preserveColors,
      ...(style ? { style } : {}),
    });
    await ctx.platform.recordRequest({ at: new Date().toISOString(), model, version: result.version, routing: reason, strength: controls.strength, preserve_colors: controls.preserveColors, ...(style ? { style } : {}) });
    const done = performance.now();
    const totalMs = done - started;
    metrics.stylizeRequests.labels(model, result.version, '200').inc();
    metrics.stylizeSeconds.labels(model, result.version).observe(totalMs / 1000);
    req.log.info({ nst: { event: 'stylize', model, version: result.version, duration_ms: Math.round(totalMs), width: result.width, height: result.height } }, 'stylized');
    void reply.header('x-model-version', result.version);
    return {
      model,
      version: result.version,
      routing: reason,
      content_image_filename: inputName,
      output_image_filename: outputName,
      input_url: `/api/images/inputs/${inputName}`,
      output_url: `/api/images/outputs/${outputName}`,
      width: result.width,
      height: result.height,
      strength: controls.strength,
      preserve_colors: controls.preserveColors,
      ...(style ? { style } : {}),
      timings: {
        upload_ms: round(uploadedAt - started),
        forward_ms: round(forwardedAt - uploadedAt),
        ...result.timings,
        save_ms: round(done - forwardedAt),
        total_ms: round(totalMs),
      },
      request_id: String(req.id),
    };
  };
  const schema = {
    summary: 'Stylise a photo with a model',
    description:
      'With Accept: application/x-ndjson the answer streams JSON lines {"tiles_done","tiles_total"} while a large photo runs in tiles, ' +
      'then {"result": <the JSON below>} or {"error": {"statusCode","message"}}. ' +
      'X-Client-Id (or the nst_client cookie) keeps a client on one version during a canary; X-Model-Version pins a version.',
    consumes: ['multipart/form-data'],
    body: streamedBody(stylizeFormSchema),
    response: { 200: stylizeResponseSchema, ...errorResponses(400, 401, 404, 413, 415, 422, 429, 503) },
  };
  app.post('/api/stylize', { schema }, handler);
  app.post('/stylize', { schema: { ...schema, hide: true } }, handler);
}

const round = (ms: number) => Math.round(ms * 10) / 10;
