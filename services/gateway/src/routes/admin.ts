/**
 * Admin endpoints (bearer NST_ADMIN_TOKEN): canary, promote, rollback (through the release
 * owner), the feedback export, and a proxy to the fine-tuning service's jobs for the operator page.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError, checkBearer } from '@nst/common';
import type { GatewayContext } from '../context.ts';
import type { FinetuneClient } from '../finetuneClient.ts';

const reasonSchema = { type: 'string', maxLength: 500 } as const;

export function adminRoutes(app: FastifyInstance, ctx: GatewayContext, finetune: FinetuneClient, token: string): void {
  const ops = ctx.release;
  app.register(async (admin) => {
    admin.addHook('onRequest', async (req) => checkBearer(req.headers.authorization, token));
    const actor = (req: FastifyRequest) => {
      const given = req.headers['x-actor'];
      return typeof given === 'string' && /^[\w.@ -]{1,64}$/.test(given) ? given : 'admin';
    };
    const model = (req: FastifyRequest) => {
      const { model: name } = req.params as { model: string };
      if (!ctx.modelNames.has(name)) throw new HttpError(404, `unknown model "${name}"`);
      return name;
    };
    const security = [{ bearerAuth: [] }];

    admin.post<{ Body: { version?: string; percent: number; reason?: string } }>(
      '/api/admin/models/:model/canary',
      {
        schema: {
          summary: 'Send a share of traffic to a candidate version (percent 0 ends the canary)',
          security,
          body: { type: 'object', required: ['percent'], additionalProperties: false, properties: { version: { type: 'string', maxLength: 64 }, percent: { type: 'number', minimum: 0, maximum: 100 }, reason: reasonSchema } },
        },
      },
      async (req) => ({ change: await ops.canary(model(req), req.body.version, req.body.percent, actor(req), req.body.reason) }),
    );
    admin.post<{ Body: { reason?: string } | undefined }>(
      '/api/admin/models/:model/promote',
      { schema: { summary: 'Make the canary candidate the live version', security, body: { type: 'object', additionalProperties: false, properties: { reason: reasonSchema } } } },
      async (req) => ({ change: await ops.promote(model(req), actor(req), req.body?.reason) }),
    );
    admin.post<{ Body: { version?: string; reason?: string } | undefined }>(
      '/api/admin/models/:model/rollback',
      {
        schema: {
          summary: 'Roll back to a named version (it becomes live), or drop the canary candidate',
          security,
          body: { type: 'object', additionalProperties: false, properties: { version: { type: 'string', maxLength: 64 }, reason: reasonSchema } },
        },
      },
      async (req) => ({ change: await ops.rollback(model(req), req.body?.version, actor(req), req.body?.reason) }),
    );

    admin.get(
      '/api/admin/feedback/export',
      { schema: { summary: 'Every rating that counts, oldest first, as JSON Lines (the feedback.jsonl shape), streamed', security, produces: ['application/x-ndjson'] } },
      async (_req, reply) => {
        async function* lines() {
          for await (const e of ctx.platform.feedback()) yield `${JSON.stringify(e)}\n`;
        }
        return reply.type('application/x-ndjson').header('content-disposition', 'attachment; filename="feedback.jsonl"').send(Readable.from(lines()));
      },
    );

    // The operator page reaches the fine-tuning service through here (same origin, same token).
    const relay = async (res: { status: number; body: unknown }, reply: { status: (n: number) => unknown }) => {
      reply.status(res.status);
      return res.body;
    };
    admin.get('/api/admin/jobs', { schema: { summary: 'Fine-tuning jobs', security } }, async (_req, reply) => relay(await finetune.call('GET', '/jobs'), reply));
    admin.get('/api/admin/jobs/:id', { schema: { summary: 'One fine-tuning job', security } }, async (req, reply) => relay(await finetune.call('GET', `/jobs/${encodeURIComponent((req.params as { id: string }).id)}`), reply));
    admin.delete('/api/admin/jobs/:id', { schema: { summary: 'Cancel a fine-tuning job', security } }, async (req, reply) => relay(await finetune.call('DELETE', `/jobs/${encodeURIComponent((req.params as { id: string }).id)}`), reply));
    admin.post('/api/admin/finetune', { schema: { summary: 'Start a fine-tuning job (body as POST /finetune of the fine-tuning service)', security } }, async (req, reply) => relay(await finetune.call('POST', '/finetune', req.body ?? {}), reply));
  });
}
