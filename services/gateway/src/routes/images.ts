/** GET /api/images/{inputs,outputs}/:name — stored files, by server-made names only. */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { HttpError } from '@nst/common';
import type { GatewayContext } from '../context.ts';

const TYPES: Record<string, string> = {
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.tiff': 'image/tiff',
  '.avif': 'image/avif',
  '.heif': 'image/heif',
};

export function imageRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  app.get('/api/images/:kind/:name', { schema: { summary: 'A stored upload (inputs) or result (outputs)' } }, async (req, reply) => {
    const { kind, name } = req.params as { kind: string; name: string };
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
