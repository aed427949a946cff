/**
 * The records the platform keeps on its store (files on the shared volume, or PostgreSQL):
 * ratings, served requests, routing policies and their history, model cards, the sidecar of
 * each stylised output, uploaded style images.
 */
import { z } from 'zod';
import { cardTrainingSchema } from './finetune.ts';

/**
 * One rating, as feedback.jsonl holds it and the export streams it. The gateway always sets
 * every field it knows; older lines may lack `version` and `received_at`, or carry the
 * client's time as epoch milliseconds.
 */
export const feedbackEntrySchema = z.object({
  feedback: z.enum(['good', 'bad']),
  model: z.string(),
  /** The version that made the rated output. */
  version: z.string().optional(),
  content_image_filename: z.string(),
  output_image_filename: z.string(),
  /** The client's time of rating (ISO). */
  timestamp: z.union([z.string(), z.number().transform((ms) => new Date(ms).toISOString())]),
  /** When the gateway took the rating (ISO). */
  received_at: z.string().optional(),
  comment: z.string().optional(),
  request_id: z.string().optional(),
  /** Who rated: one rating per output and client, a newer one replaces the older. */
  client_id: z.string().optional(),
  /** The rated output's style controls: strength 0..1, original colours kept, uploaded painting. */
  strength: z.number().min(0).max(1).optional(),
  preserve_colors: z.boolean().optional(),
  style: z.string().optional(),
});
export type FeedbackEntry = z.infer<typeof feedbackEntrySchema>;

export const ROUTING_REASONS = ['live', 'canary', 'pinned'] as const;
/** Why a request went to its version: the live one, the canary's share, or a pinned X-Model-Version. */
export const routingReasonSchema = z.enum(ROUTING_REASONS);
export type RoutingReason = z.infer<typeof routingReasonSchema>;

/** One served stylise request (the request line). */
export const servedRequestSchema = z.object({
  at: z.string(),
  model: z.string(),
  version: z.string(),
  routing: routingReasonSchema,
  strength: z.number().optional(),
  preserve_colors: z.boolean().optional(),
  /** The uploaded painting, for an arbitrary-style model. */
  style: z.string().optional(),
});
export type ServedRequest = z.infer<typeof servedRequestSchema>;

/** A model's routing policy: an optional candidate version taking a share of traffic (canary). */
export const routingPolicySchema = z.object({
  candidate: z.string().nullable(),
  percent: z.number().min(0).max(100),
  updated_at: z.string(),
  updated_by: z.string(),
  reason: z.string().optional(),
});
export type RoutingPolicy = z.infer<typeof routingPolicySchema>;

/** One change of a model's routing, as its release history keeps it. */
export const historyEntrySchema = z
  .object({
    at: z.string(),
    model: z.string(),
    action: z.enum(['canary', 'canary_end', 'promote', 'rollback', 'publish']),
    from: z.string().nullable(),
    to: z.string().nullable(),
    percent: z.number().optional(),
    actor: z.string(),
    reason: z.string().optional(),
  })
  .meta({ id: 'HistoryEntry' });
export type HistoryEntry = z.infer<typeof historyEntrySchema>;

/** models/<model>/<model>_v<N>.json: what a version is, where it came from, how it scored. */
export const modelCardSchema = z
  .object({
    model: z.string(),
    version: z.string(),
    version_number: z.number().int().positive(),
    parent: z.string().nullable(),
    style: z.string(),
    title: z.string().optional(),
    artist: z.string().optional(),
    licence: z.string(),
    created_at: z.string(),
    source: z.record(z.string(), z.unknown()),
    artefact: z.object({ file: z.string(), sha256: z.string(), bytes: z.number().int() }),
    metrics: z.record(z.string(), z.unknown()).default({}),
    training: cardTrainingSchema.optional(),
  })
  .meta({ id: 'ModelCard' });
export type ModelCard = z.infer<typeof modelCardSchema>;

/** The sidecar of a stylised output (output_images/out_<id>.json): which version made it, for whom. */
export const outputRecordSchema = z.object({
  model: z.string(),
  version: z.string(),
  content_image_filename: z.string(),
  width: z.number(),
  height: z.number(),
  created_at: z.string(),
  request_id: z.string(),
  client_id: z.string().nullable().optional(),
  strength: z.number().optional(),
  preserve_colors: z.boolean().optional(),
  /** The uploaded style image's id, for the arbitrary-style model. */
  style: z.string().optional(),
});
export type OutputRecord = z.infer<typeof outputRecordSchema>;

/** Style image ids are made by the store, never taken from the client. */
export const STYLE_ID = /^st_[0-9a-f]{32}$/;

/** styles/<id>.json: an uploaded style image for the arbitrary-style model. */
export const styleRecordSchema = z.object({
  id: z.string().regex(STYLE_ID),
  title: z.string(),
  file: z.string(),
  format: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  bytes: z.number().int(),
  sha256: z.string(),
  created_at: z.string(),
});
export type StyleRecord = z.infer<typeof styleRecordSchema>;
