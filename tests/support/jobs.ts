/** A fine-tuning job as the service's API sends it, for stand-ins of that service. */
import { finetuneSettingsSchema, type Job } from '@nst/contracts';

/** Just queued on model1 from model1_v1, with the given fields changed. */
export const testJob = (over: Partial<Job> = {}): Job => ({
  id: 'job',
  model: 'model1',
  state: 'queued',
  phase: null,
  runner: 'local',
  kubernetes_job: null,
  retry_of: null,
  step: 0,
  steps: 0,
  loss_history: [],
  seconds_per_step: null,
  eta_seconds: null,
  backend: null,
  created_at: new Date().toISOString(),
  started_at: null,
  finished_at: null,
  result: null,
  error: null,
  loss: null,
  parent_version: 'model1_v1',
  request: finetuneSettingsSchema.parse({ model: 'model1', publish: { mode: 'none' } }),
  dataset: { images: 8, curated_uploads: 0, base_photos: 8, undecodable: 0 },
  ...over,
});
