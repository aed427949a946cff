/** The API gateway: composes plugins and routes; main.ts only starts it. */
import { access } from 'node:fs/promises';
import cookie from '@fastify/cookie';
import multipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { applyConnectionCap, createService, ensureAdminToken, openPlatformStore, serverLimitOptions } from '@nst/common';
import type { GatewayConfig } from './config.ts';
import { createContext, type GatewayContext, type Inference } from './context.ts';
import { useZodSchemas, withoutUnusedComponents } from './typedRoutes.ts';
import { drainingSchema, readinessSchema } from '@nst/contracts';
import { feedbackRoutes } from './routes/feedback.ts';
import { imageRoutes } from './routes/images.ts';
import { modelRoutes } from './routes/models.ts';
import { styleRoutes } from './routes/styles.ts';
import { stylizeRoutes } from './routes/stylize.ts';
import { adminRoutes } from './routes/admin.ts';
import { statsRoutes } from './routes/stats.ts';
import { uiConfigRoutes } from './routes/uiConfig.ts';
import { FinetuneClient, finetuneOverHttp, type FinetuneCalls } from './finetuneClient.ts';
import { LoopAutomation } from './loopAutomation.ts';
import { protectionPlugin } from './plugins/protection.ts';
import { rateLimitsPlugin } from './plugins/rateLimits.ts';
import { scheduleRetention } from './retentionJob.ts';
import { storageProblems } from './storageHealth.ts';

/** Where the OpenAPI document and its browsable page are served. */
export const OPENAPI_JSON_PATH = '/api/openapi.json';
export const API_DOCS_PATH = '/api/docs';

/** Stand-ins for the upstream services, for in-process tests; the real clients otherwise. */
export interface GatewayUpstreams {
  inference?: Inference;
  finetune?: FinetuneCalls;
}

/** A route as registered: what the OpenAPI document must list unless it is hidden. */
export interface RegisteredRoute {
  method: string;
  url: string;
  hidden: boolean;
}

export async function buildGatewayApp(config: GatewayConfig, upstreams: GatewayUpstreams = {}): Promise<{ app: FastifyInstance; ctx: GatewayContext; routes: RegisteredRoute[] }> {
  const service = createService({
    service: 'gateway',
    logLevel: config.LOG_LEVEL,
    bodyLimit: 1024 * 1024,
    fastify: { ...serverLimitOptions(config), trustProxy: config.NST_TRUST_PROXY },
  });
  const app = useZodSchemas(service);
  const routes: RegisteredRoute[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url, hidden: r.schema?.hide === true });
  });
  applyConnectionCap(app, config);
  const platform = await openPlatformStore({ storageDir: config.NST_STORAGE_DIR, databaseUrl: config.NST_DATABASE_URL });
  const ctx = createContext(config, app.metrics, platform, app.log, upstreams.inference);
  await protectionPlugin(app, { maxEventLoopDelayMs: config.NST_MAX_EVENT_LOOP_DELAY_MS });

  await app.register(swagger, {
    openapi: {
      info: { title: 'NST platform API', version: '1.0.0', description: 'Neural style transfer: stylise photos, rate results, inspect models.' },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
    },
    // Route schemas are zod (@nst/contracts); schemas with a meta id become named components.
    transform: jsonSchemaTransform,
    transformObject: (doc) => withoutUnusedComponents(jsonSchemaTransformObject(doc)),
  });
  await app.register(swaggerUi, { routePrefix: API_DOCS_PATH, uiConfig: { deepLinking: true } });
  await app.register(cookie);
  await app.register(multipart, {
    // Two files are let through so that the route can say why a second one is refused.
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
  const finetune = new FinetuneClient(upstreams.finetune ?? finetuneOverHttp(config.NST_FINETUNE_URL, token));
  const loop = new LoopAutomation(ctx, finetune, app.log);

  await rateLimitsPlugin(app, {
    perMinute: { '/api/stylize': config.NST_RATE_LIMIT_STYLIZE, '/stylize': config.NST_RATE_LIMIT_STYLIZE, '/api/feedback': config.NST_RATE_LIMIT_FEEDBACK, '/feedback': config.NST_RATE_LIMIT_FEEDBACK },
    clientsPerIp: config.NST_RATE_LIMIT_CLIENTS_PER_IP,
  });
  stylizeRoutes(app, ctx, token);
  feedbackRoutes(app, ctx, (model) => loop.afterFeedback(model));
  statsRoutes(app, ctx);
  adminRoutes(app, ctx, finetune, token);
  modelRoutes(app, ctx);
  styleRoutes(app, ctx);
  imageRoutes(app, ctx);
  uiConfigRoutes(app, config);

  app.get(OPENAPI_JSON_PATH, { schema: { hide: true } }, async () => app.swagger());
  app.get('/ready', { schema: { summary: 'Whether the gateway can serve: storage, store and each model', response: { 200: readinessSchema, 503: z.union([readinessSchema, drainingSchema]) } } }, async (_req, reply) => {
    const [problems, models, store] = await Promise.all([
      storageProblems([config.NST_STORAGE_DIR, ctx.images.inputDir, ctx.images.outputDir]),
      Promise.all(config.NST_MODELS.map(async (m) => [m.name, await ctx.inference.ready(m.name)] as const)).then(Object.fromEntries),
      platform.health(),
    ]);
    if (problems.length > 0) return reply.status(503).send({ status: 'unavailable', reason: `storage is not writable: ${problems.join('; ')}`, models, store });
    if (!store.ok) return reply.status(503).send({ status: 'unavailable', reason: `the ${store.backend} store is not usable: ${store.detail}`, models, store });
    return { status: 'ready' as const, models, store };
  });

  if (config.NST_SERVE_FRONTEND) {
    const present = await access(config.NST_FRONTEND_DIR).then(
      () => true,
      () => false,
    );
    // Content-hashed bundles (frontend/build.mjs) are immutable; the pages and anything else are revalidated.
    const cacheControl = (file: string) => (/-[A-Z0-9]{8}\.(?:js|css)(?:\.map)?$/.test(file) ? 'public, max-age=31536000, immutable' : 'no-cache');
    if (present) {
      await app.register(fastifyStatic, { root: config.NST_FRONTEND_DIR, prefix: '/', index: 'index.html', wildcard: false, cacheControl: false, setHeaders: (reply, file) => void reply.header('cache-control', cacheControl(file)) });
    }
    else app.log.warn({ dir: config.NST_FRONTEND_DIR }, 'frontend not built (pnpm build:frontend): the UI is not served');
  }

  if (config.NST_IMAGE_RETENTION_SCHEDULE) {
    const stop = scheduleRetention(config.NST_STORAGE_DIR, config.NST_IMAGE_RETENTION_DAYS, platform, app.log);
    app.addHook('onClose', async () => stop());
  }
  app.addHook('onClose', async () => {
    await ctx.inference.close();
    await platform.close();
  });
  return { app, ctx, routes };
}

