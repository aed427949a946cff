/** The fine-tuning service: admin-only training jobs that publish new model versions. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Counter, Gauge, Histogram } from 'prom-client';
import { z } from 'zod';
import { HttpError, ModelStore, checkBearer, createService, dataLocation, ensureAdminToken, sharedPlatformStore, type JobRecords } from '@nst/common';
import type { FinetuneConfig } from '../config.ts';
import { FINISHED_STATES, JOB_STATES, JobQueue, QueueFullError, type Job, type JobRunner } from '../jobs/jobQueue.ts';
import { prepareJob, type PreparedJob } from '../jobs/prepare.ts';
import { describeIssues, finetuneRequestSchema } from '../jobs/request.ts';
import { runJob } from '../jobs/runJob.ts';
import { kubernetesRunner } from '../jobs/kubernetesRunner.ts';
import { KubernetesJobLauncher, jobState, trainingJobName } from '../jobs/kubernetesLauncher.ts';

export interface FinetuneApp {
  app: FastifyInstance;
  queue: JobQueue<PreparedJob>;
  adminToken: { token: string; file: string | null; created: boolean };
}

/** Enough of a saved job to trust it back into the queue; the rest is as it was written. */
const savedJobSchema = z.looseObject({
  id: z.string(),
  model: z.string(),
  state: z.enum(JOB_STATES),
  runner: z.string(),
  created_at: z.string(),
  step: z.number(),
  steps: z.number(),
  loss_history: z.array(z.looseObject({ step: z.number() })),
  params: z.looseObject({ request: z.looseObject({ model: z.string() }), parentVersion: z.string(), files: z.array(z.unknown()), heldOut: z.array(z.unknown()) }),
});
const parseSavedJob = (value: unknown) => savedJobSchema.parse(value) as unknown as Job<PreparedJob>;

/** What GET /jobs shows of a job: its request, not the resolved file lists. */
function publicJob(job: Job<PreparedJob>) {
  const { params, ...rest } = job;
  const last = job.loss_history.at(-1);
  return {
    ...rest,
    /** Alias of state, the name the pipeline scripts read. */
    status: job.state,
    loss: last ? last.total : null,
    parent_version: params.parentVersion,
    request: params.request,
    dataset: { images: params.files.length, curated_uploads: params.curated.used, base_photos: params.baseCount, undecodable: params.undecodable },
  };
}

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

  const requireAdmin = async (req: { headers: { authorization?: string } }) => checkBearer(req.headers.authorization, adminToken.token);

  app.get('/ready', async () => ({ status: 'ready', service, jobs: queue.countByState() }));

  const submit = (prepared: PreparedJob, retryOf?: string) => {
    try {
      return queue.submit(prepared.spec.name, prepared, prepared.steps, { retry_of: retryOf });
    } catch (err) {
      if (err instanceof QueueFullError) throw new HttpError(429, `the training queue is full: ${err.message}`, { 'retry-after': '60' });
      throw err;
    }
  };
  const accepted = (reply: FastifyReply, job: Job<PreparedJob>) =>
    reply
      .status(202)
      .header('location', `/jobs/${job.id}`)
      .send({ job_id: job.id, status_url: `/jobs/${job.id}`, ...publicJob(job) });

  app.post('/finetune', { preHandler: requireAdmin }, async (req, reply) => {
    const parsed = finetuneRequestSchema.safeParse(req.body ?? {});
    if (!parsed.success) throw new HttpError(400, describeIssues(parsed.error));
    const prepared = await prepareJob(parsed.data, { store, models: config.NST_MODELS, storageDir: config.NST_STORAGE_DIR, loc });
    return accepted(reply, submit(prepared));
  });

  app.get('/jobs', { preHandler: requireAdmin }, async () => ({ jobs: queue.list().map(publicJob) }));

  app.get('/jobs/:id', { preHandler: requireAdmin }, async (req) => {
    const job = queue.get((req.params as { id: string }).id);
    if (!job) throw new HttpError(404, 'no such job');
    return publicJob(job);
  });

  app.delete('/jobs/:id', { preHandler: requireAdmin }, async (req) => {
    const id = (req.params as { id: string }).id;
    const job = queue.get(id);
    if (!job) throw new HttpError(404, 'no such job');
    if (!queue.cancel(id)) throw new HttpError(409, `job ${id} has already ${job.state === 'succeeded' ? 'succeeded' : job.state}`);
    return publicJob(job);
  });

  app.post('/jobs/:id/retry', { preHandler: requireAdmin }, async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const old = queue.get(id);
    if (!old) throw new HttpError(404, 'no such job');
    if (!FINISHED_STATES.has(old.state) || old.state === 'succeeded') throw new HttpError(409, `job ${id} is ${old.state}; only interrupted, failed or cancelled jobs are retried`);
    // The same request from the same parent version, checked again against today's data.
    const prepared = await prepareJob({ ...old.params.request, version: old.params.parentVersion }, { store, models: config.NST_MODELS, storageDir: config.NST_STORAGE_DIR, loc });
    return accepted(reply, submit(prepared, id));
  });

  // A restart (rollout, SIGTERM) keeps queued jobs queued and never deletes a Kubernetes Job.
  app.addHook('onClose', async () => queue.shutdown());
  return { app, queue, adminToken };
}

/**
 * Start-up: the saved jobs go back into the queue. With the Kubernetes runner, the service's
 * Jobs (by label) are listed: a saved running job, or a queued one whose Job exists already,
 * is followed again; a Job without a record is reported, not touched.
 */
async function restoreJobs(queue: JobQueue<PreparedJob>, records: JobRecords<Job<PreparedJob>>, launcher: KubernetesJobLauncher | null, log: FastifyInstance['log']): Promise<void> {
  const saved = await records.list();
  const inCluster = new Set<string>();
  if (launcher) {
    try {
      const known = new Set(saved.map((j) => trainingJobName(j.id)));
      for (const k of await launcher.listManaged()) {
        const name = k.metadata?.name ?? '';
        inCluster.add(name);
        if (!known.has(name) && !['succeeded', 'failed'].includes(jobState(k))) {
          log.warn({ kubernetes: { job: name } }, `Kubernetes Job ${name} has no job record here; leaving it alone`);
        }
      }
    } catch (err) {
      log.error({ err }, `could not list this service's Kubernetes Jobs: ${(err as Error).message}; following the saved running ones`);
    }
  }
  const canResume = (j: Job<PreparedJob>) =>
    launcher !== null && j.runner === 'kubernetes' && (j.state === 'running' || inCluster.has(trainingJobName(j.id)));
  const before = { queued: saved.filter((j) => j.state === 'queued').length, running: saved.filter((j) => j.state === 'running').length };
  const resumed = saved.filter((j) => (j.state === 'running' || j.state === 'queued') && canResume(j)).length;
  const interrupted = saved.filter((j) => j.state === 'running' && !canResume(j)).length;
  queue.restore(saved, canResume);
  if (saved.length > 0) {
    log.info(
      { nst: { event: 'training_jobs_restored', saved: saved.length, queued: before.queued, running: before.running, resumed, interrupted } },
      `restored ${saved.length} saved training jobs: ${resumed} followed again, ${interrupted} interrupted, ${before.queued} were queued`,
    );
  }
}
