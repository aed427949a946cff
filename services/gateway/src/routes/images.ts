/** GET /api/images/{inputs,outputs}/:name — stored files, by server-made names only. */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { HttpError } from '@nst/common';
import { imageParamsSchema } from '@nst/contracts';
import type { GatewayContext } from '../context.ts';
import { binaryResponse, errorResponses, type GatewayApp } from '../typedRoutes.ts';

const TYPES: Record<string, string> = {
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.tiff': 'image/tiff',
  '.avif': 'image/avif',
  '.heif': 'image/heif',
};

export function imageRoutes(app: GatewayApp, ctx: GatewayContext): void {
  const schema = {
    summary: 'A stored upload (inputs) or result (outputs)',
    params: imageParamsSchema,
    response: { 200: binaryResponse('The image', [...new Set(Object.values(TYPES))]), ...errorResponses(404) },
  };
  app.get('/api/images/:kind/:name', { schema }, async (req, reply) => {
    const { kind, name } = req.params;
    if (kind !== 'inputs' && kind !== 'outputs') throw new HttpError(404, 'images are under /api/images/inputs/ or /api/images/outputs/');
    const file = ctx.images.resolve(kind, name);
    // O_NOFOLLOW: a symbolic link planted in the store is never followed out of it.
    const handle = file ? await open(file, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => null) : null;
    const info = handle ? await handle.stat().catch(() => null) : null;
    if (!handle || !info?.isFile()) {
      await handle?.close();
      throw new HttpError(404, `no image ${kind}/${name}`);
    }
    return reply
      .type(TYPES[path.extname(name)] ?? 'application/octet-stream')
      .header('content-length', info.size)
      .header('cache-control', 'private, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff')
      .send(handle.createReadStream());
  });
}
