/** GET /api/models and the style paintings (full size or as thumbnails). */
import { readFile, stat } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { HttpError, STYLES, modelKind, parseVersionName, versionName } from '@nst/common';
import type { GatewayContext } from '../context.ts';

export function modelRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  app.get('/api/models', { schema: { summary: 'List the models with their live and available versions' } }, async () => {
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

  app.get('/api/models/:model/versions/:version', { schema: { summary: "A version's model card" } }, async (req) => {
    const { model, version } = req.params as { model: string; version: string };
    if (!ctx.modelNames.has(model)) throw new HttpError(404, `unknown model "${model}"`);
    // Only names of the form <model>_v<N>: nothing else becomes part of a path.
    if (parseVersionName(model, version) === null) throw new HttpError(404, `model ${model} has no version ${version}`);
    return ctx.store.card(model, version).catch(() => {
      throw new HttpError(404, `model ${model} has no version ${version}`);
    });
  });

  // Thumbnails are small and few: cache them in memory, keyed by the painting's mtime.
  const thumbs = new Map<string, { mtime: number; bytes: Buffer }>();
  app.get('/api/models/:model/style.jpg', { schema: { summary: 'The style painting; ?w=N for a thumbnail N px wide' } }, async (req, reply) => {
    const { model } = req.params as { model: string };
    const { w } = req.query as { w?: string };
    if (!ctx.modelNames.has(model)) throw new HttpError(404, `unknown model "${model}"`);
    const file = ctx.store.styleImagePath(model);
    const info = await stat(file).catch(() => null);
    if (!info) throw new HttpError(404, `model ${model} has no style image`);
    reply.type('image/jpeg').header('cache-control', 'public, max-age=3600');
    if (w === undefined) return reply.send(await readFile(file));
    const width = Number(w);
    if (!Number.isInteger(width) || width < 16 || width > 1024) throw new HttpError(400, 'w must be an integer from 16 to 1024');
    const key = `${model}:${width}`;
    const hit = thumbs.get(key);
    if (hit && hit.mtime === info.mtimeMs) return reply.send(hit.bytes);
    const bytes = await sharp(file).resize({ width, withoutEnlargement: true }).jpeg({ quality: 82 }).toBuffer();
    thumbs.set(key, { mtime: info.mtimeMs, bytes });
    return reply.send(bytes);
  });
}
