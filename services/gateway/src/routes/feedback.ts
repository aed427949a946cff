/**
 * POST /api/feedback (and the seed's /feedback): one rating per output and client, kept by
 * the platform store (a newer rating of the same output by the same client replaces the older).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError, type FeedbackEntry } from '@nst/common';
import type { GatewayContext } from '../context.ts';
import { knownClientId } from '../clientId.ts';
import { parseClientTime, requireProducingClient } from '../ratingRules.ts';

interface FeedbackBody {
  feedback: 'good' | 'bad';
  model: string;
  content_image_filename: string;
  output_image_filename: string;
  timestamp: string | number;
  comment?: string;
}

export const feedbackBodySchema = {
  type: 'object',
  required: ['feedback', 'model', 'content_image_filename', 'output_image_filename', 'timestamp'],
  additionalProperties: false,
  properties: {
    feedback: { type: 'string', enum: ['good', 'bad'] },
    model: { type: 'string', minLength: 1, maxLength: 64 },
    content_image_filename: { type: 'string', minLength: 1, maxLength: 128 },
    output_image_filename: { type: 'string', minLength: 1, maxLength: 128 },
    timestamp: { anyOf: [{ type: 'string', minLength: 1, maxLength: 64 }, { type: 'number' }] },
    comment: { type: 'string', maxLength: 2000 },
  },
} as const;

export function feedbackRoutes(app: FastifyInstance, ctx: GatewayContext, afterFeedback: (model: string) => Promise<void> = async () => undefined): void {
  const handler = async (req: FastifyRequest<{ Body: FeedbackBody }>, reply: FastifyReply) => {
    const b = req.body;
    if (!ctx.modelNames.has(b.model)) throw new HttpError(404, `unknown model "${b.model}"`);
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
    return { status: replaced ? 'replaced' : 'recorded', version: record.version };
  };
  const schema = {
    summary: 'Rate a stylised image',
    body: feedbackBodySchema,
    response: { 201: { type: 'object', properties: { status: { type: 'string' }, version: { type: 'string' } } } },
  };
  app.post<{ Body: FeedbackBody }>('/api/feedback', { schema }, handler);
  app.post<{ Body: FeedbackBody }>('/feedback', { schema: { ...schema, hide: true } as typeof schema }, handler);
}
