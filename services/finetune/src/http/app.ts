/** The fine-tuning service: admin-only training jobs that publish new model versions. */
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram } from 'prom-client';
import { ModelStore, createService, dataLocation, ensureAdminToken, sharedPlatformStore } from '@nst/common';
import { JOB_STATES, jobRecordSchema } from '@nst/contracts';
import type { FinetuneConfig } from '../config.ts';
import { JobQueue, type Job, type JobRunner } from '../jobs/jobQueue.ts';
import { KubernetesJobLauncher } from '../jobs/kubernetesLauncher.ts';
import { kubernetesRunner } from '../jobs/kubernetesRunner.ts';
import { prepareJob, type PreparedJob } from '../jobs/prepare.ts';
import { restoreJobs } from '../jobs/restoreJobs.ts';
import { runJob } from '../jobs/runJob.ts';
import { jobRoutes } from './jobRoutes.ts';
import { registerOpenApi } from './openApi.ts';

export interface FinetuneApp {
  app: FastifyInstance;
  queue: JobQueue<PreparedJob>;
  adminToken: { token: string; file: string | null; created: boolean };
}

/** A saved job, checked before it goes back into the queue; the rest of its params is as it was written. */
const parseSavedJob = (value: unknown) => jobRecordSchema.parse(value) as unknown as Job<PreparedJob>;

export async function buildFinetuneApp(config: FinetuneConfig): Promise<FinetuneApp> {
  const service = 'finetune';
  const app = createService({ service, logLevel: config.LOG_LEVEL, bodyLimit: 64 * 1024 });
  const store = new ModelStore(config.NST_STORAGE_DIR);
  const loc = dataLocation(config);
  const adminToken = await ensureAdminToken(config.NST_STORAGE_DIR, config.NST_ADMIN_TOKEN);
  const registers = [app.metrics];

  const jobsTotal = new Counter({
    name: 'nst_training_jobs_total',
    help: 'Training jobs by model and the state they reached (queued, running, succeeded, failed, cancelled)',
    labelNames: ['model', 'state'] as const,
    registers,
  });
  const stepSeconds = new Histogram({
    name: 'nst_training_step_seconds',
    help: 'Wall time of one training step, by model',
    labelNames: ['model'] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64],
    registers,
  });

  // Locally, worker threads in this process; in a cluster, one Kubernetes Job per run.
  const launcher = config.NST_TRAINING_RUNNER === 'kubernetes' ? KubernetesJobLauncher.fromEnv() : null;
  const backend = { prefer: config.NST_FINETUNE_BACKEND, threads: config.NST_FINETUNE_THREADS };
  const runner: JobRunner<PreparedJob> = launcher
    ? kubernetesRunner(launcher, config.NST_STORAGE_DIR)
    : (job, signal) => runJob(job, signal, { store, loc, backend, log: app.log, onStepSeconds: (m, s) => stepSeconds.labels(m).observe(s) });
  // The platform store publishing releases through (files, or PostgreSQL with NST_DATABASE_URL):
  // every replica and restart sees the same jobs.
  const platform = await sharedPlatformStore(config.NST_STORAGE_DIR, config.NST_DATABASE_URL);
  const records = platform.jobRecords(parseSavedJob, (where, err) => app.log.warn({ err, nst: { job_record: where } }, `ignoring unreadable job record ${where}`));
  const queue: JobQueue<PreparedJob> = new JobQueue<PreparedJob>(runner, {
    maxQueued: config.NST_FINETUNE_MAX_QUEUE,
    keepFinished: config.NST_FINETUNE_KEEP_JOBS,
    runner: config.NST_TRAINING_RUNNER,
    records,
    onSaveError: (job, err) => app.log.error({ err, nst: { job: { id: job.id } } }, `could not save job record ${job.id}: ${err.message}`),
    onStateChange: (job) => {
      jobsTotal.labels(job.model, job.state).inc();
      const nst = { event: 'training_job', model: job.model, job: { id: job.id, state: job.state } };
      const fields = { nst, version: job.result?.version, published: job.result?.published, reason: job.result?.reason ?? job.error ?? job.phase ?? undefined };
      if (job.state === 'failed') app.log.error(fields, `training job ${job.id} failed: ${job.error}`);
      else if (job.state === 'interrupted') app.log.warn(fields, `training job ${job.id} interrupted: ${job.error}`);
      else app.log.info(fields, `training job ${job.id} ${job.state}`);
    },
  });
  await restoreJobs(queue, records, launcher, app.log);
  new Gauge({
    name: 'nst_training_jobs',
    help: 'Training jobs of this process by state',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const counts = queue.countByState();
      for (const s of JOB_STATES) this.set({ state: s }, counts[s]);
    },
  });

  await registerOpenApi(app);
  const prepare = (request: Parameters<typeof prepareJob>[0]) => prepareJob(request, { store, models: config.NST_MODELS, storageDir: config.NST_STORAGE_DIR, loc });
  jobRoutes(app, { queue, prepare, adminToken: adminToken.token, service });

  // A restart (rollout, SIGTERM) keeps queued jobs queued and never deletes a Kubernetes Job.
  app.addHook('onClose', async () => queue.shutdown());
  return { app, queue, adminToken };
}
