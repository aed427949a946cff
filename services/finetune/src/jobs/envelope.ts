/**
 * The envelope between the fine-tuning service and a training run in its own Kubernetes Job,
 * the JSON in NST_TRAINING_JOB: the launcher (kubernetesLauncher.ts) encodes it, the Job's
 * entry point (`cli.ts job`) decodes it; both through the one schema in @nst/contracts.
 */
import { TRAINING_ENVELOPE_ENV, trainingEnvelopeSchema, type TrainingEnvelope, type TrainingEnvelopeInput } from '@nst/contracts';
import { describeIssues } from './request.ts';

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
