/**
 * POST /api/feedback (and the seed's /feedback): one rating per output and client, kept by
 * the platform store (a newer rating of the same output by the same client replaces the older).
 */
import { HttpError } from '@nst/common';
import { feedbackRequestSchema, feedbackResponseSchema, type FeedbackEntry } from '@nst/contracts';
import type { GatewayContext } from '../context.ts';
import { knownClientId } from '../clientId.ts';
import { requireKnownModel } from '../knownModel.ts';
import { parseClientTime, requireProducingClient } from '../ratingRules.ts';
import { errorResponses, type GatewayApp } from '../typedRoutes.ts';

export function feedbackRoutes(app: GatewayApp, ctx: GatewayContext, afterFeedback: (model: string) => Promise<void> = async () => undefined): void {
  const schema = {
    summary: 'Rate a stylised image (as the client that made it: X-Client-Id or the nst_client cookie)',
    body: feedbackRequestSchema,
    response: { 201: feedbackResponseSchema, ...errorResponses(400, 403, 404, 429, 503, 507) },
  };
  for (const [url, hide] of [['/api/feedback', false], ['/feedback', true]] as const) {
    app.post(url, { schema: { ...schema, hide } }, async (req, reply) => {
      const b = req.body;
      requireKnownModel(ctx.modelNames, b.model);
      const record = await ctx.images.outputRecord(b.output_image_filename);
      if (!record) throw new HttpError(404, `no stylised image named "${b.output_image_filename}"`);
      if (record.model !== b.model) throw new HttpError(400, `${b.output_image_filename} was made by ${record.model}, not ${b.model}`);
      if (record.content_image_filename !== b.content_image_filename) {
        throw new HttpError(400, `${b.output_image_filename} was made from ${record.content_image_filename}, not ${b.content_image_filename}`);
      }
      const clientId = requireProducingClient(record, knownClientId(req), b.output_image_filename);
      const clientTime = parseClientTime(b.timestamp);
      const line: FeedbackEntry = {
        feedback: b.feedback,
        model: b.model,
        version: record.version,
        content_image_filename: b.content_image_filename,
        output_image_filename: b.output_image_filename,
        timestamp: clientTime.toISOString(),
        received_at: new Date().toISOString(),
        ...(b.comment ? { comment: b.comment } : {}),
        // The request's controls, so ratings can be split by them.
        ...(record.strength !== undefined ? { strength: record.strength } : {}),
        ...(record.preserve_colors !== undefined ? { preserve_colors: record.preserve_colors } : {}),
        ...(record.style !== undefined ? { style: record.style } : {}),
        request_id: req.id,
        client_id: clientId,
      };
      const { replaced } = await ctx.platform.addFeedback(line);
      ctx.metrics.feedback.labels(b.feedback, b.model, record.version).inc();
      req.log.info({ nst: { event: 'feedback', rating: b.feedback, model: b.model, version: record.version, replaced } }, replaced ? 'feedback replaced' : 'feedback recorded');
      // The loop's decisions run after the answer: a rating never waits for them.
      setImmediate(() => void afterFeedback(b.model));
      reply.status(201);
      return { status: replaced ? 'replaced' : 'recorded', version: record.version } as const;
    });
  }
}
