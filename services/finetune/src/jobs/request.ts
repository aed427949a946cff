/** POST /finetune's body: every training parameter with its range, and how to publish. */
import { z } from 'zod';
import { MODEL_NAME } from '@nst/common';

/**
 * Publishing modes, as objects so a mode can carry settings (a canary percentage, say):
 * add a member to this union and a case to publish.ts. The bare strings are shorthands.
 */
export const publishSchema = z
  .union([
    z.enum(['latest', 'none', 'canary']).transform((mode) => ({ mode })),
    z.discriminatedUnion('mode', [
      z.object({ mode: z.literal('latest') }).strict(),
      z.object({ mode: z.literal('none') }).strict(),
      z.object({ mode: z.literal('canary'), percent: z.number().min(1).max(100).optional() }).strict(),
    ]),
  ])
  .default({ mode: 'latest' });
/** After validation a canary always carries its share of traffic. */
export type PublishMode = { mode: 'latest' } | { mode: 'none' } | { mode: 'canary'; percent: number };

export const DATA_CHOICES = ['feedback', 'base', 'both'] as const;

export const finetuneRequestSchema = z
  .object({
    model: z.string().regex(MODEL_NAME, 'model must be a model name (lower-case letters, digits, _ and -)'),
    /** Version to start from; default the live one. */
    version: z.string().max(64).optional(),
    steps: z.number().int().min(1).max(100_000).optional(),
    epochs: z.number().positive().max(1000).optional(),
    batch_size: z.number().int().min(1).max(16).default(4),
    image_size: z
      .number()
      .int()
      .min(32)
      .max(512)
      .refine((n) => n % 4 === 0, 'image_size must be a multiple of 4')
      .default(256),
    learning_rate: z.number().positive().max(0.1).default(1e-3),
    style_weight: z.number().min(0).max(1e6).default(100),
    content_weight: z.number().min(0).max(1e6).default(7.5),
    tv_weight: z.number().min(0).max(1e6).default(200),
    data: z.enum(DATA_CHOICES).default('both'),
    /** At most this many base photos (the first by name); default all. */
    max_images: z.number().int().min(1).max(10_000).optional(),
    /** Held-out photos for the quality gate. */
    heldout_images: z.number().int().min(1).max(100).default(4),
    seed: z.number().int().min(0).max(2 ** 31).default(1),
    publish: publishSchema,
    /** Share of traffic for `publish: 'canary'` (default 10). */
    canary_percent: z.number().min(1).max(100).optional(),
  })
  .strict()
  .refine((r) => !(r.steps !== undefined && r.epochs !== undefined), { message: 'give steps or epochs, not both', path: ['steps'] })
  .refine((r) => r.style_weight + r.content_weight + r.tv_weight > 0, { message: 'at least one loss weight must be positive', path: ['style_weight'] })
  .transform(({ canary_percent, publish, ...r }) => ({
    ...r,
    publish: (publish.mode === 'canary' ? { mode: 'canary', percent: ('percent' in publish ? publish.percent : undefined) ?? canary_percent ?? 10 } : publish) as PublishMode,
  }));

export type FinetuneRequest = z.output<typeof finetuneRequestSchema>;

/** Steps to run: given, or epochs over the dataset; default 200. */
export function stepsFor(r: FinetuneRequest, images: number): number {
  if (r.steps !== undefined) return r.steps;
  if (r.epochs !== undefined) return Math.max(1, Math.ceil((r.epochs * images) / r.batch_size));
  return 200;
}

/** One readable line per problem. */
export function describeIssues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
}
