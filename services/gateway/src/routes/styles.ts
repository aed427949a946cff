/** POST /api/styles and GET /api/styles: style images for the arbitrary-style model. */
import type { FastifyRequest } from 'fastify';
import sharp from 'sharp';
import { HttpError, probeImage } from '@nst/common';
import { STYLE_ID, styleFormSchema, styleImageSchema, styleListSchema, styleParamsSchema, thumbnailQuerySchema, type StyleImage, type StyleRecord } from '@nst/contracts';
import type { GatewayContext } from '../context.ts';
import { binaryResponse, errorResponses, streamedBody, type GatewayApp } from '../typedRoutes.ts';
import { multipartFault } from '../uploadForm.ts';

const styleView = (r: StyleRecord): StyleImage => ({
  id: r.id,
  title: r.title,
  width: r.width,
  height: r.height,
  created_at: r.created_at,
  image_url: `/api/styles/${r.id}/image`,
  thumbnail_url: `/api/styles/${r.id}/image?w=256`,
});

/** Validates an uploaded style image like a photo, under its own size cap, and stores it. */
export async function saveStyleImage(ctx: GatewayContext, bytes: Buffer, title?: string): Promise<StyleRecord> {
  if (bytes.length === 0) throw new HttpError(400, 'the style image is empty');
  if (bytes.length > ctx.config.NST_MAX_STYLE_BYTES) throw new HttpError(413, `the style image is larger than ${Math.round(ctx.config.NST_MAX_STYLE_BYTES / 1024 / 1024)} MB`);
  const info = await probeImage(bytes, ctx.config.NST_MAX_PIXELS);
  // Decode it fully once: a file that only has a valid header is refused here, not later.
  await sharp(bytes, { limitInputPixels: ctx.config.NST_MAX_PIXELS, failOn: 'error' })
    .resize(16, 16)
    .raw()
    .toBuffer()
    .catch((err: Error) => {
      throw new HttpError(422, `the style image cannot be decoded: ${err.message}`);
    });
  if (title !== undefined && title.length > 200) throw new HttpError(400, 'title must be at most 200 characters');
  return ctx.styles.add(bytes, { format: info.format, width: info.width, height: info.height, title });
}

async function readStyleForm(req: FastifyRequest): Promise<{ image?: Buffer; title?: string }> {
  if (!req.isMultipart()) throw new HttpError(415, 'send multipart/form-data with an "image" file and an optional "title"');
  const form: { image?: Buffer; title?: string } = {};
  try {
    for await (const part of req.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== 'image' || form.image) {
          await part.toBuffer();
          throw new HttpError(400, `unexpected file field "${part.fieldname}"; send exactly one file named "image"`);
        }
        form.image = await part.toBuffer();
      } else if (part.fieldname === 'title') {
        form.title = String(part.value);
      }
    }
  } catch (err) {
    throw multipartFault(err);
  }
  return form;
}

export function styleRoutes(app: GatewayApp, ctx: GatewayContext): void {
  app.post(
    '/api/styles',
    {
      schema: {
        summary: 'Upload a style image (a painting) for the arbitrary-style model',
        consumes: ['multipart/form-data'],
        body: streamedBody(styleFormSchema),
        response: { 201: styleImageSchema, ...errorResponses(400, 413, 415, 422) },
      },
    },
    async (req, reply) => {
      const form = await readStyleForm(req);
      if (!form.image) throw new HttpError(400, 'missing "image": attach the painting as a file field named "image"');
      const record = await saveStyleImage(ctx, form.image, form.title);
      req.log.info({ nst: { event: 'style_uploaded', style: record.id, bytes: record.bytes } }, 'style image stored');
      reply.status(201);
      return styleView(record);
    },
  );

  app.get('/api/styles', { schema: { summary: 'Uploaded style images, newest first', response: { 200: styleListSchema } } }, async () => ({ styles: (await ctx.styles.list()).map(styleView) }));

  const thumbs = new Map<string, Buffer>();
  app.get(
    '/api/styles/:id/image',
    {
      schema: {
        summary: 'A style image; ?w=N for a thumbnail N px wide',
        params: styleParamsSchema,
        querystring: thumbnailQuerySchema,
        response: { 200: binaryResponse('The image as uploaded, or a JPEG thumbnail', ['image/jpeg', 'image/png', 'image/webp']), ...errorResponses(400, 404) },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const { w: width } = req.query;
      if (!STYLE_ID.test(id)) throw new HttpError(404, `no style image "${id}"`);
      const found = await ctx.styles.read(id);
      if (!found) throw new HttpError(404, `no style image "${id}"`);
      reply.header('cache-control', 'public, max-age=86400, immutable');
      if (width === undefined) return reply.type(`image/${found.record.format}`).send(found.bytes);
      const key = `${id}:${width}`;
      let bytes = thumbs.get(key);
      if (!bytes) {
        bytes = await sharp(found.bytes).rotate().resize({ width, withoutEnlargement: true }).jpeg({ quality: 82 }).toBuffer();
        if (thumbs.size > 500) thumbs.clear();
        thumbs.set(key, bytes);
      }
      return reply.type('image/jpeg').send(bytes);
    },
  );
}
