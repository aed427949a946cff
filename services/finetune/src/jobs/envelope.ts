/**
 * The contract between the fine-tuning service and a training run in its own Kubernetes Job:
 * the JSON in NST_TRAINING_JOB. The launcher (kubernetesLauncher.ts) encodes it, the Job's entry
 * point (train.ts) decodes it; both through this one schema.
 */
import { z } from 'zod';
import { MODEL_NAME } from '@nst/common';
import { describeIssues, finetuneRequestSchema } from './request.ts';

export const TRAINING_ENVELOPE_ENV = 'NST_TRAINING_JOB';

export const trainingEnvelopeSchema = z
  .object({
    /** The fine-tuning service's job id (progress file, card, logs). */
    id: z.string().min(1).max(128),
    model: z.string().regex(MODEL_NAME),
    /** The POST /finetune body, parent version pinned. */
    params: finetuneRequestSchema,
  })
  .strict()
  .refine((e) => e.params.model === e.model, { message: 'params.model must be the envelope model', path: ['params', 'model'] });

/** What the launcher sends. */
export type TrainingEnvelopeInput = z.input<typeof trainingEnvelopeSchema>;
/** What the Job works from. */
export type TrainingEnvelope = z.output<typeof trainingEnvelopeSchema>;

export class EnvelopeError extends Error {}

/** The env value for a run; refuses to launch what the Job would refuse. */
export function encodeEnvelope(e: TrainingEnvelopeInput): string {
  const checked = trainingEnvelopeSchema.safeParse(e);
  if (!checked.success) throw new EnvelopeError(`invalid training envelope: ${describeIssues(checked.error)}`);
  return JSON.stringify(e);
}

export function decodeEnvelope(text: string | undefined): TrainingEnvelope {
  if (!text) throw new EnvelopeError(`${TRAINING_ENVELOPE_ENV} is not set`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new EnvelopeError(`${TRAINING_ENVELOPE_ENV} is not JSON: ${(err as Error).message}`);
  }
  const parsed = trainingEnvelopeSchema.safeParse(value);
  if (!parsed.success) throw new EnvelopeError(`${TRAINING_ENVELOPE_ENV} is not a training envelope { id, model, params }: ${describeIssues(parsed.error)}`);
  return parsed.data;
}
