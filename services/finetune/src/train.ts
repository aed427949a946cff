/**
 * Entry point of a training run in its own Kubernetes Job (NST_TRAINING_RUNNER=kubernetes):
 * NST_TRAINING_JOB holds { id, model, params } (params: the POST /finetune body). It trains
 * and publishes exactly as the in-process runner does, reporting progress through the
 * shared volume; the exit code tells the Job's outcome.
 */
import path from 'node:path';
import { ModelStore } from '@nst/common';
import { loadFinetuneConfig } from './config.ts';
import { writeProgress } from './jobs/jobProgress.ts';
import type { Job } from './jobs/jobQueue.ts';
import { prepareJob, type PreparedJob } from './jobs/prepare.ts';
import { finetuneRequestSchema, describeIssues } from './jobs/request.ts';
import { runJob } from './jobs/runJob.ts';

const config = loadFinetuneConfig();
const spec = JSON.parse(process.env.NST_TRAINING_JOB ?? 'null') as { id?: string; model?: string; params?: unknown } | null;
if (!spec?.id || !spec.model) {
  console.error('NST_TRAINING_JOB must be JSON { id, model, params }');
  process.exit(2);
}
const parsed = finetuneRequestSchema.safeParse(spec.params);
if (!parsed.success) {
  console.error(`invalid training parameters: ${describeIssues(parsed.error)}`);
  process.exit(2);
}
const store = new ModelStore(config.NST_STORAGE_DIR);
const loc = { mirror: config.NST_DATA_MIRROR, cacheDir: path.join(config.NST_STORAGE_DIR, 'data-cache') };
const job: Job<PreparedJob> = {
  id: spec.id,
  model: spec.model,
  state: 'running',
  phase: 'preparing data',
  params: await prepareJob(parsed.data, { store, models: config.NST_MODELS, storageDir: config.NST_STORAGE_DIR, loc }),
  step: 0,
  steps: 0,
  loss_history: [],
  seconds_per_step: null,
  eta_seconds: null,
  backend: null,
  created_at: new Date().toISOString(),
  started_at: new Date().toISOString(),
  finished_at: null,
  result: null,
  error: null,
};
job.steps = job.params.steps;
const report = setInterval(() => void writeProgress(config.NST_STORAGE_DIR, job), 2000);
const abort = new AbortController();
process.on('SIGTERM', () => abort.abort(new Error('the training Job was stopped')));
try {
  job.result = await runJob(job, abort.signal, { store, loc, backend: { threads: config.NST_FINETUNE_THREADS, dataParallel: config.NST_FINETUNE_DATA_PARALLEL } });
  job.phase = 'done';
} catch (err) {
  job.error = (err as Error).message;
  process.exitCode = 1;
} finally {
  clearInterval(report);
  await writeProgress(config.NST_STORAGE_DIR, job);
}
console.log(JSON.stringify({ nst: { event: 'training_job', model: job.model, job: { id: job.id, state: job.error ? 'failed' : 'succeeded' } }, result: job.result, error: job.error }));
process.exit();
