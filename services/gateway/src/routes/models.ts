/** GET /api/models, a version's model card, and the style paintings (full size or as thumbnails). */
import { readFile, stat } from 'node:fs/promises';
import sharp from 'sharp';
import { HttpError, STYLES, modelKind, parseVersionName, versionName } from '@nst/common';
import { modelCardSchema, modelParamsSchema, modelsResponseSchema, thumbnailQuerySchema, versionParamsSchema } from '@nst/contracts';
import type { GatewayContext } from '../context.ts';
import { knownModelHook } from '../knownModel.ts';
import { binaryResponse, errorResponses, type GatewayApp } from '../typedRoutes.ts';

export function modelRoutes(app: GatewayApp, ctx: GatewayContext): void {
  const preHandler = knownModelHook(ctx.modelNames);
  app.get('/api/models', { schema: { summary: 'List the models with their live and available versions', response: { 200: modelsResponseSchema } } }, async () => {
    const models = await Promise.all(
      ctx.config.NST_MODELS.map(async (m) => {
        const info = STYLES[m.style]!;
        const policy = await ctx.platform.policy(m.name);
        const kind = modelKind(m);
        return {
          name: m.name,
          kind,
          style: m.style,
          title: info.title,
          artist: info.artist,
          live_version: await ctx.resolver.live(m.name),
          versions: (await ctx.store.versions(m.name)).map((n) => versionName(m.name, n)),
          canary: policy.candidate && policy.percent > 0 ? { version: policy.candidate, percent: policy.percent } : null,
          // An arbitrary-style model has no painting of its own: its styles are at /api/styles.
          style_image_url: kind === 'arbitrary' ? null : `/api/models/${m.name}/style.jpg`,
          thumbnail_url: kind === 'arbitrary' ? null : `/api/models/${m.name}/style.jpg?w=256`,
        };
      }),
    );
    return { models };
  });

  app.get(
    '/api/models/:model/versions/:version',
    { preHandler, schema: { summary: "A version's model card", params: versionParamsSchema, response: { 200: modelCardSchema, ...errorResponses(404) } } },
    async (req) => {
      const { model, version } = req.params;
      // Only names of the form <model>_v<N>: nothing else becomes part of a path.
      if (parseVersionName(model, version) === null) throw new HttpError(404, `model ${model} has no version ${version}`);
      return ctx.store.card(model, version).catch(() => {
        throw new HttpError(404, `model ${model} has no version ${version}`);
      });
    },
  );

  // Thumbnails are small and few: cache them in memory, keyed by the painting's mtime.
  const thumbs = new Map<string, { mtime: number; bytes: Buffer }>();
  app.get(
    '/api/models/:model/style.jpg',
    {
      preHandler,
      schema: {
        summary: 'The style painting; ?w=N for a thumbnail N px wide',
        params: modelParamsSchema,
        querystring: thumbnailQuerySchema,
        response: { 200: binaryResponse('The painting (JPEG)', ['image/jpeg']), ...errorResponses(400, 404) },
      },
    },
    async (req, reply) => {
      const { model } = req.params;
      const { w: width } = req.query;
      const file = ctx.store.styleImagePath(model);
      const info = await stat(file).catch(() => null);
      if (!info) throw new HttpError(404, `model ${model} has no style image`);
      reply.type('image/jpeg').header('cache-control', 'public, max-age=3600');
      if (width === undefined) return reply.send(await readFile(file));
      const key = `${model}:${width}`;
      const hit = thumbs.get(key);
      if (hit && hit.mtime === info.mtimeMs) return reply.send(hit.bytes);
      const bytes = await sharp(file).resize({ width, withoutEnlargement: true }).jpeg({ quality: 82 }).toBuffer();
      thumbs.set(key, { mtime: info.mtimeMs, bytes });
      return reply.send(bytes);
    },
  );
}
