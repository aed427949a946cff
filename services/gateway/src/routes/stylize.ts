/** POST /api/stylize (and the seed's /stylize): upload in, stylised image stored, JSON out. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError, OUTPUT_FORMATS, probeImage, type OutputFormat } from '@nst/common';
import type { GatewayContext } from '../context.ts';
import { clientIdOf } from '../clientId.ts';

interface StylizeForm {
  image?: Buffer;
  model?: string;
  max_size?: string;
  format?: string;
}

const FIELDS = new Set(['model', 'max_size', 'format']);

async function readForm(req: FastifyRequest): Promise<StylizeForm> {
  if (!req.isMultipart()) throw new HttpError(415, 'send multipart/form-data with an "image" file and a "model" field');
  const form: StylizeForm = {};
  for await (const part of req.parts()) {
    if (part.type === 'file') {
      if (part.fieldname !== 'image' || form.image) {
        await part.toBuffer();
        throw new HttpError(400, `unexpected file field "${part.fieldname}"; send exactly one file named "image"`);
      }
      form.image = await part.toBuffer();
    } else if (FIELDS.has(part.fieldname)) {
      (form as Record<string, unknown>)[part.fieldname] = String(part.value);
    }
  }
  return form;
}

export const stylizeResponseSchema = {
  type: 'object',
  properties: {
    model: { type: 'string' },
    version: { type: 'string' },
    routing: { type: 'string', enum: ['live', 'canary', 'pinned'] },
    content_image_filename: { type: 'string' },
    output_image_filename: { type: 'string' },
    input_url: { type: 'string' },
    output_url: { type: 'string' },
    width: { type: 'integer' },
    height: { type: 'integer' },
    timings: { type: 'object', additionalProperties: { type: 'number' } },
    request_id: { type: 'string' },
  },
} as const;

export function stylizeRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const { config, metrics } = ctx;
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const started = performance.now();
    const form = await readForm(req);
    const uploadedAt = performance.now();
    if (!form.image || form.image.length === 0) throw new HttpError(400, 'missing "image": attach the photo as a file field named "image"');
    if (!form.model) throw new HttpError(400, 'missing "model": name one of the models from GET /api/models');
    const model = form.model;
    if (!ctx.modelNames.has(model)) throw new HttpError(404, `unknown model "${model}"; known: ${[...ctx.modelNames].join(', ')}`);
    let maxSide: number | undefined;
    if (form.max_size !== undefined && form.max_size !== '') {
      maxSide = Number(form.max_size);
      if (!Number.isInteger(maxSide) || maxSide < 16 || maxSide > config.NST_MAX_SIDE_LIMIT) {
        throw new HttpError(400, `max_size must be an integer from 16 to ${config.NST_MAX_SIDE_LIMIT}`);
      }
    }
    const format = (form.format || 'png') as OutputFormat;
    if (!OUTPUT_FORMATS.includes(format)) throw new HttpError(400, `format must be one of ${OUTPUT_FORMATS.join(', ')}`);

    const info = await probeImage(form.image, config.NST_MAX_PIXELS);
    const pinned = req.headers['x-model-version'];
    const clientId = clientIdOf(req, reply);
    const { version, reason } = await ctx.resolver.resolve(model, { pinned: typeof pinned === 'string' && pinned ? pinned : undefined, clientId });
    const inputName = ctx.images.newInputName(info.format);
    const savingInput = ctx.images.saveInput(inputName, form.image);
    let result;
    try {
      result = await ctx.inference.infer({ model, version, image: form.image, maxSide, format, requestId: String(req.id) });
    } catch (err) {
      metrics.stylizeRequests.labels(model, version, String((err as HttpError).statusCode ?? 500)).inc();
      await savingInput.catch(() => undefined);
      throw err;
    }
    await savingInput;
    const forwardedAt = performance.now();
    const outputName = ctx.images.newOutputName(format);
    await ctx.images.saveOutput(outputName, result.image, {
      model,
      version: result.version,
      content_image_filename: inputName,
      width: result.width,
      height: result.height,
      created_at: new Date().toISOString(),
      request_id: String(req.id),
      client_id: clientId,
    });
    await ctx.platform.recordRequest({ at: new Date().toISOString(), model, version: result.version, routing: reason });
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
      'multipart/form-data: image (file), model, optional max_size (16..limit, default 1024) and format (png, jpeg, webp). ' +
      'X-Client-Id (or the nst_client cookie) keeps a client on one version during a canary; X-Model-Version pins a version.',
    consumes: ['multipart/form-data'],
    response: { 200: stylizeResponseSchema },
  };
  app.post('/api/stylize', { schema }, handler);
  app.post('/stylize', { schema: { ...schema, hide: true } as typeof schema }, handler);
}

const round = (ms: number) => Math.round(ms * 10) / 10;
