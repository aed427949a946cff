/** The API gateway: composes plugins and routes; main.ts only starts it. */
import { access, constants } from 'node:fs/promises';
import cookie from '@fastify/cookie';
import multipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { createService, ensureAdminToken } from '@nst/common';
import type { GatewayConfig } from './config.ts';
import { createContext, type GatewayContext } from './context.ts';
import { feedbackRoutes } from './routes/feedback.ts';
import { imageRoutes } from './routes/images.ts';
import { modelRoutes } from './routes/models.ts';
import { styleRoutes } from './routes/styles.ts';
import { stylizeRoutes } from './routes/stylize.ts';
import { adminRoutes } from './routes/admin.ts';
import { statsRoutes } from './routes/stats.ts';
import { FinetuneClient } from './finetuneClient.ts';
import { LoopAutomation } from './loopAutomation.ts';
import { ModelOps } from './modelOps.ts';

export async function buildGatewayApp(config: GatewayConfig): Promise<{ app: FastifyInstance; ctx: GatewayContext }> {
  const app = createService({ service: 'gateway', logLevel: config.LOG_LEVEL, bodyLimit: 1024 * 1024 });
  const ctx = createContext(config, app.metrics);

  await app.register(swagger, {
    openapi: {
      info: { title: 'NST platform API', version: '1.0.0', description: 'Neural style transfer: stylise photos, rate results, inspect models.' },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(cookie);
  await app.register(multipart, {
    limits: { fileSize: config.NST_MAX_UPLOAD_BYTES, files: 2, fields: 12, fieldSize: 1024, parts: 14 },
    throwFileSizeLimit: true,
  });
  // @fastify/multipart reports an oversized file as 413 already; keep its message readable.
  app.addHook('onError', async (_req, _reply, err) => {
    if ((err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') {
      err.message = `the upload is larger than the limit of ${config.NST_MAX_UPLOAD_BYTES} bytes`;
    }
  });

  const { token } = await ensureAdminToken(config.NST_STORAGE_DIR, config.NST_ADMIN_TOKEN);
  const ops = new ModelOps(ctx.store, ctx.routing, app.log);
  const finetune = new FinetuneClient(config.NST_FINETUNE_URL, token);
  const loop = new LoopAutomation(ctx, ops, finetune, app.log);

  stylizeRoutes(app, ctx);
  feedbackRoutes(app, ctx, (model) => loop.afterFeedback(model));
  statsRoutes(app, ctx);
  adminRoutes(app, ctx, ops, finetune, token);
  modelRoutes(app, ctx);
  styleRoutes(app, ctx);
  imageRoutes(app, ctx);

  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/ready', { schema: { hide: true } }, async (_req, reply) => {
    const storage = await access(config.NST_STORAGE_DIR, constants.W_OK).then(
      () => true,
      () => false,
    );
    const models = Object.fromEntries(await Promise.all(config.NST_MODELS.map(async (m) => [m.name, await ctx.inference.ready(m.name)] as const)));
    if (!storage) return reply.status(503).send({ status: 'unavailable', reason: 'storage is not writable', models });
    return { status: 'ready', models };
  });

  if (config.NST_SERVE_FRONTEND) {
    const present = await access(config.NST_FRONTEND_DIR).then(
      () => true,
      () => false,
    );
    if (present) await app.register(fastifyStatic, { root: config.NST_FRONTEND_DIR, prefix: '/', index: 'index.html', wildcard: false });
    else app.log.warn({ dir: config.NST_FRONTEND_DIR }, 'frontend not built (pnpm build:frontend): the UI is not served');
  }

  app.addHook('onClose', async () => ctx.inference.close());
  return { app, ctx };
}

