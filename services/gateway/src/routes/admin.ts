/**
 * Admin endpoints (bearer NST_ADMIN_TOKEN): canary, promote, rollback (through the release
 * owner), the feedback export, and a proxy to the fine-tuning service's jobs for the operator page.
 */
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { checkBearer } from '@nst/common';
import { canaryRequestSchema, errorBodySchema, modelParamsSchema, type ErrorBody, promoteRequestSchema, releaseChangeSchema, rollbackRequestSchema, finetuneRequestSchema, jobListSchema, jobParamsSchema, jobSchema } from '@nst/contracts';
import type { GatewayContext } from '../context.ts';
import type { FinetuneCalls } from '../finetuneClient.ts';
import { knownModelHook } from '../knownModel.ts';
import { binaryResponse, errorResponses, relayedBody, type GatewayApp } from '../typedRoutes.ts';


export function adminRoutes(app: GatewayApp, ctx: GatewayContext, finetune: FinetuneCalls, token: string): void {
  const ops = ctx.release;
  app.register(async (admin: GatewayApp) => {
    admin.addHook('onRequest', async (req) => checkBearer(req.headers.authorization, token));
    const actor = (req: FastifyRequest) => {
      const given = req.headers['x-actor'];
      return typeof given === 'string' && /^[\w.@ -]{1,64}$/.test(given) ? given : 'admin';
    };
    const security = [{ bearerAuth: [] }];
    const preHandler = knownModelHook(ctx.modelNames);
    const changed = { 200: releaseChangeSchema, ...errorResponses(400, 401, 404, 409) };

    admin.post(
      '/api/admin/models/:model/canary',
      { preHandler, schema: { summary: 'Send a share of traffic to a candidate version (percent 0 ends the canary)', security, params: modelParamsSchema, body: canaryRequestSchema, response: changed } },
      async (req) => ({ change: await ops.canary(req.params.model, req.body.version, req.body.percent, actor(req), req.body.reason) }),
    );
    admin.post(
      '/api/admin/models/:model/promote',
      { preHandler, schema: { summary: 'Make the canary candidate the live version', security, params: modelParamsSchema, body: promoteRequestSchema.optional(), response: changed } },
      async (req) => ({ change: await ops.promote(req.params.model, actor(req), req.body?.reason) }),
    );
    admin.post(
      '/api/admin/models/:model/rollback',
      {
        preHandler,
        schema: { summary: 'Roll back to a named version (it becomes live), or drop the canary candidate', security, params: modelParamsSchema, body: rollbackRequestSchema.optional(), response: changed },
      },
      async (req) => ({ change: await ops.rollback(req.params.model, req.body?.version, actor(req), req.body?.reason) }),
    );

    admin.get(
      '/api/admin/feedback/export',
      {
        schema: {
          summary: 'Every rating that counts, oldest first, as JSON Lines (the feedback.jsonl shape), streamed',
          security,
          response: { 200: binaryResponse('One feedback line (JSON) per line', ['application/x-ndjson']), ...errorResponses(401) },
        },
      },
      async (_req, reply) => {
        async function* lines() {
          for await (const e of ctx.platform.feedback()) yield `${JSON.stringify(e)}\n`;
        }
        return reply.type('application/x-ndjson').header('content-disposition', 'attachment; filename="feedback.jsonl"').send(Readable.from(lines()));
      },
    );

    // The operator page reaches the fine-tuning service through here (same origin, same token).
    // Its answers are the fine-tuning service's, status included, read through the same job contract.
    const relay = <T>(res: { status: number; body: unknown }, reply: FastifyReply, answer: z.ZodType<T>): T | ErrorBody => {
      reply.status(res.status);
      return res.status < 300 ? answer.parse(res.body) : errorBodySchema.parse(res.body);
    };
    const relayErrors = errorResponses(400, 401, 404, 409, 429, 503);
    admin.get('/api/admin/jobs', { schema: { summary: 'Fine-tuning jobs (as GET /jobs of the fine-tuning service)', security, response: { 200: jobListSchema, ...relayErrors } } }, async (_req, reply) =>
      relay(await finetune.call('GET', '/jobs'), reply, jobListSchema),
    );
    admin.get('/api/admin/jobs/:id', { schema: { summary: 'One fine-tuning job', security, params: jobParamsSchema, response: { 200: jobSchema, ...relayErrors } } }, async (req, reply) =>
      relay(await finetune.call('GET', `/jobs/${encodeURIComponent(req.params.id)}`), reply, jobSchema),
    );
    admin.delete('/api/admin/jobs/:id', { schema: { summary: 'Cancel a fine-tuning job', security, params: jobParamsSchema, response: { 200: jobSchema, ...relayErrors } } }, async (req, reply) =>
      relay(await finetune.call('DELETE', `/jobs/${encodeURIComponent(req.params.id)}`), reply, jobSchema),
    );
    admin.post(
      '/api/admin/jobs/:id/retry',
      { schema: { summary: 'Run an interrupted, failed or cancelled fine-tuning job again', security, params: jobParamsSchema, response: { 202: jobSchema, ...relayErrors, ...errorResponses(422) } } },
      async (req, reply) => relay(await finetune.call('POST', `/jobs/${encodeURIComponent(req.params.id)}/retry`), reply, jobSchema),
    );
    admin.post(
      '/api/admin/finetune',
      { schema: { summary: 'Start a fine-tuning job (body as POST /finetune of the fine-tuning service)', security, body: relayedBody(finetuneRequestSchema), response: { 202: jobSchema, ...relayErrors } } },
      async (req, reply) => relay(await finetune.call('POST', '/finetune', req.body ?? {}), reply, jobSchema),
    );
  });
}
