/**
 * The fine-tuning service's contracts: POST /finetune's body, a job as the API shows it, a
 * job as the platform store keeps it, and the training Job's envelope (NST_TRAINING_JOB).
 */
import { z } from 'zod';

/** A model's name: the key of its folder, its service and its metrics. */
export const MODEL_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const modelName = z.string().regex(MODEL_NAME, 'model must be a model name (lower-case letters, digits, _ and -)');

/** After validation a canary always carries its share of traffic. */
export const publishModeSchema = z
  .discriminatedUnion('mode', [
    z.object({ mode: z.literal('latest') }).strict(),
    z.object({ mode: z.literal('none') }).strict(),
    z.object({ mode: z.literal('canary'), percent: z.number().min(1).max(100) }).strict(),
  ])
  .describe('latest: publish if the held-out loss did not get worse; none: keep as a candidate; canary: a share of traffic');
export type PublishMode = z.infer<typeof publishModeSchema>;

/**
 * Publishing modes, as objects so a mode can carry settings (a canary percentage, say):
 * add a member here and a case to the service's publish step. The bare strings are shorthands.
 */
const publishInput = z
  .union([
    z.enum(['latest', 'none', 'canary']).transform((mode) => ({ mode })),
    z.discriminatedUnion('mode', [
      z.object({ mode: z.literal('latest') }).strict(),
      z.object({ mode: z.literal('none') }).strict(),
      z.object({ mode: z.literal('canary'), percent: z.number().min(1).max(100).optional() }).strict(),
    ]),
  ])
  .default({ mode: 'latest' });

export const DATA_CHOICES = ['feedback', 'base', 'both'] as const;

/** Every training parameter with its range; the request and the resolved settings share them. */
const trainingFields = {
  model: modelName,
  version: z.string().max(64).optional().describe('Version to start from; default the live one'),
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
  data: z.enum(DATA_CHOICES).default('both').describe('feedback: curated uploads rated bad; base: the base photos; both'),
  max_images: z.number().int().min(1).max(10_000).optional().describe('At most this many base photos (the first by name); default all'),
  heldout_images: z.number().int().min(1).max(100).default(4).describe('Held-out photos for the quality gate'),
  seed: z.number().int().min(0).max(2 ** 31).default(1),
};

/** POST /finetune's body. */
export const finetuneRequestSchema = z
  .object({
    ...trainingFields,
    publish: publishInput,
    canary_percent: z.number().min(1).max(100).optional().describe("Share of traffic for publish 'canary' (default 10)"),
  })
  .strict()
  .refine((r) => !(r.steps !== undefined && r.epochs !== undefined), { message: 'give steps or epochs, not both', path: ['steps'] })
  .refine((r) => r.style_weight + r.content_weight + r.tv_weight > 0, { message: 'at least one loss weight must be positive', path: ['style_weight'] })
  .transform(({ canary_percent, publish, ...r }) => ({
    ...r,
    publish: (publish.mode === 'canary' ? { mode: 'canary', percent: ('percent' in publish ? publish.percent : undefined) ?? canary_percent ?? 10 } : publish) as PublishMode,
  }))
  .meta({ id: 'FinetuneRequest' });
/** What a client sends. */
export type FinetuneRequestBody = z.input<typeof finetuneRequestSchema>;

/** A request once checked: every default filled in, the publishing mode resolved. */
export const finetuneSettingsSchema = z.object({ ...trainingFields, publish: publishModeSchema }).meta({ id: 'FinetuneSettings' });
export type FinetuneRequest = z.output<typeof finetuneSettingsSchema>;

export const lossPartsSchema = z.object({ total: z.number(), style: z.number(), content: z.number(), tv: z.number() });
export type LossParts = z.infer<typeof lossPartsSchema>;

/** The loss terms at one logged step. */
export const lossPointSchema = lossPartsSchema.extend({ step: z.number().int() });
export type LossPoint = z.infer<typeof lossPointSchema>;

/**
 * The `training` section of a fine-tuned version's model card: how it was made. Cards of
 * pretrained or imported versions have none; a publisher may add fields of its own.
 */
export const cardTrainingSchema = z
  .looseObject({
    job_id: z.string().optional(),
    parent: z.string().optional().describe('The version training started from'),
    params: z.record(z.string(), z.unknown()).optional().describe('Steps, sizes, weights, optimiser and loss network'),
    dataset: z.record(z.string(), z.unknown()).optional().describe('Sizes, sources and sha256 of the training and held-out sets'),
    backend: z.string().nullable().optional(),
    backend_reason: z.string().nullable().optional(),
    wall_seconds: z.number().optional(),
    seconds_per_step: z.number().nullable().optional(),
    loss_history: z.array(lossPointSchema).optional(),
    publish: publishModeSchema.optional(),
  })
  .meta({ id: 'CardTraining' });
export type CardTraining = z.infer<typeof cardTrainingSchema>;

export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted'] as const;
export const jobStateSchema = z.enum(JOB_STATES);
export type JobState = z.infer<typeof jobStateSchema>;

export const jobResultSchema = z.object({
  version: z.string(),
  published: z.boolean(),
  reason: z.string().describe('Why latest.txt did or did not move'),
  heldout: z.object({ parent: lossPartsSchema, trained: lossPartsSchema }),
});
export type JobResult = z.infer<typeof jobResultSchema>;

/** What a job carries wherever it is read: the API, the store, a Kubernetes Job's progress file. */
const jobFields = {
  id: z.string(),
  model: z.string(),
  state: jobStateSchema,
  phase: z.string().nullable().describe('What the job is doing now (preparing data, training, publishing, …)'),
  runner: z.string().describe("Where it runs: 'local' (the service's process) or 'kubernetes' (a batch/v1 Job)"),
  kubernetes_job: z.string().nullable().describe("The Kubernetes Job's name, once it has one"),
  retry_of: z.string().nullable().describe('The job this one re-runs (POST /jobs/:id/retry)'),
  step: z.number().int(),
  steps: z.number().int(),
  loss_history: z.array(lossPointSchema),
  seconds_per_step: z.number().nullable(),
  eta_seconds: z.number().nullable(),
  backend: z.string().nullable(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  result: jobResultSchema.nullable(),
  error: z.string().nullable().describe('Why it failed or was interrupted'),
};

/**
 * A job on the platform store: the fields above and what the service resolved from the
 * request (parent version, the training files); the rest of that is the service's own.
 */
export const jobRecordSchema = z.object({
  ...jobFields,
  params: z.looseObject({
    request: finetuneSettingsSchema,
    parentVersion: z.string(),
    files: z.array(z.unknown()),
    heldOut: z.array(z.unknown()),
  }),
});
export type JobRecord = z.infer<typeof jobRecordSchema>;

/** A job as GET /jobs/:id shows it: its request and dataset, not the resolved file lists. */
export const jobSchema = z
  .object({
    ...jobFields,
    loss: z.number().nullable().describe('The last logged total loss'),
    parent_version: z.string(),
    request: finetuneSettingsSchema,
    dataset: z.object({
      images: z.number().int(),
      curated_uploads: z.number().int(),
      base_photos: z.number().int(),
      undecodable: z.number().int(),
    }),
  })
  .meta({ id: 'Job' });
export type Job = z.infer<typeof jobSchema>;

export const jobListSchema = z.object({ jobs: z.array(jobSchema).describe('Newest first') }).meta({ id: 'JobList' });
export type JobList = z.infer<typeof jobListSchema>;

export const jobParamsSchema = z.object({ id: z.string().describe('A job id from POST /finetune or GET /jobs') });

/** The environment variable a training Job reads its envelope from. */
export const TRAINING_ENVELOPE_ENV = 'NST_TRAINING_JOB';

/** What the fine-tuning service hands a training run in its own Kubernetes Job. */
export const trainingEnvelopeSchema = z
  .object({
    id: z.string().min(1).max(128).describe("The fine-tuning service's job id (progress file, card, logs)"),
    model: modelName,
    params: finetuneRequestSchema.describe('The POST /finetune body, parent version pinned'),
  })
  .strict()
  .refine((e) => e.params.model === e.model, { message: 'params.model must be the envelope model', path: ['params', 'model'] });
/** What the launcher sends. */
export type TrainingEnvelopeInput = z.input<typeof trainingEnvelopeSchema>;
/** What the Job works from. */
export type TrainingEnvelope = z.output<typeof trainingEnvelopeSchema>;
