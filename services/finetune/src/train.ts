/**
 * Entry point of a training run in its own Kubernetes Job (NST_TRAINING_RUNNER=kubernetes):
 * NST_TRAINING_JOB holds the envelope { id, model, params } (jobs/envelope.ts; params: the
 * POST /finetune body). It trains and publishes exactly as the in-process runner does,
 * reporting progress through the shared volume and logging ECS JSON like the services; the
 * exit code tells the Job's outcome (2: a bad envelope or settings, 1: the run failed).
 */
import { ConfigError, ModelStore, createLogger, dataLocation } from '@nst/common';
import { loadFinetuneConfig } from './config.ts';
import { EnvelopeError, TRAINING_ENVELOPE_ENV, decodeEnvelope } from './jobs/envelope.ts';
import { writeProgress } from './jobs/jobProgress.ts';
import type { Job } from './jobs/jobQueue.ts';
import { prepareJob, type PreparedJob } from './jobs/prepare.ts';
import { runJob } from './jobs/runJob.ts';

const log = createLogger('finetune-job');
function settings() {
  try {
    return { config: loadFinetuneConfig(), envelope: decodeEnvelope(process.env[TRAINING_ENVELOPE_ENV]) };
  } catch (err) {
    if (!(err instanceof EnvelopeError || err instanceof ConfigError)) throw err;
    log.fatal({ err }, err.message);
    process.exit(2);
  }
}
const { config, envelope } = settings();
const nst = (state: string) => ({ event: 'training_job', model: envelope.model, job: { id: envelope.id, state } });
log.info({ nst: nst('running'), params: envelope.params }, `training job ${envelope.id} started`);

const store = new ModelStore(config.NST_STORAGE_DIR);
const loc = dataLocation(config);
const job: Job<PreparedJob | null> = {
  id: envelope.id,
  model: envelope.model,
  state: 'running',
  phase: 'preparing data',
  params: null,
  runner: 'kubernetes',
  kubernetes_job: null,
  retry_of: null,
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
const report = setInterval(() => void writeProgress(config.NST_STORAGE_DIR, job), 2000);
const abort = new AbortController();
process.on('SIGTERM', () => abort.abort(new Error('the training Job was stopped')));
try {
  const params = await prepareJob(envelope.params, { store, models: config.NST_MODELS, storageDir: config.NST_STORAGE_DIR, loc });
  const prepared: Job<PreparedJob> = Object.assign(job, { params, steps: params.steps });
  job.result = await runJob(prepared, abort.signal, {
    store,
    loc,
    backend: { prefer: config.NST_FINETUNE_BACKEND, threads: config.NST_FINETUNE_THREADS },
    log,
  });
  job.phase = 'done';
} catch (err) {
  job.error = (err as Error).message;
  process.exitCode = 1;
} finally {
  clearInterval(report);
  job.state = job.error ? 'failed' : 'succeeded';
  job.finished_at = new Date().toISOString();
  await writeProgress(config.NST_STORAGE_DIR, job);
}
const fields = { nst: nst(job.state), version: job.result?.version, published: job.result?.published, reason: job.result?.reason ?? job.error ?? undefined };
if (job.error) log.error(fields, `training job ${job.id} failed: ${job.error}`);
else log.info(fields, `training job ${job.id} succeeded`);
// pino writes synchronously to stdout; nothing is lost by exiting now.
process.exit();
