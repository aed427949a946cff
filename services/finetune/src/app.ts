/** The fine-tuning service: admin-only training jobs that publish new model versions. */
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram } from 'prom-client';
import { HttpError, ModelStore, checkBearer, createService, ensureAdminToken } from '@nst/common';
import type { FinetuneConfig } from './config.ts';
import { JOB_STATES, JobQueue, QueueFullError, type Job, type JobRunner } from './jobs/jobQueue.ts';
import { prepareJob, type PreparedJob } from './jobs/prepare.ts';
import { describeIssues, finetuneRequestSchema } from './jobs/request.ts';
import { runJob } from './jobs/runJob.ts';
import { kubernetesRunner } from './jobs/kubernetesRunner.ts';
import { KubernetesJobLauncher } from './k8sJobLauncher.ts';

export interface FinetuneApp {
  app: FastifyInstance;
  queue: JobQueue<PreparedJob>;
  adminToken: { token: string; file: string | null; created: boolean };
}

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
  const loc = { mirror: config.NST_DATA_MIRROR, cacheDir: path.join(config.NST_STORAGE_DIR, 'data-cache') };
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
  const runner: JobRunner<PreparedJob> =
    config.NST_TRAINING_RUNNER === 'kubernetes'
      ? kubernetesRunner(KubernetesJobLauncher.fromEnv(), config.NST_STORAGE_DIR)
      : (job, signal) => runJob(job, signal, { store, loc, backend: { threads: config.NST_FINETUNE_THREADS, dataParallel: config.NST_FINETUNE_DATA_PARALLEL }, onStepSeconds: (m, s) => stepSeconds.labels(m).observe(s) });
  const queue: JobQueue<PreparedJob> = new JobQueue<PreparedJob>(
    runner,
    {
      maxQueued: config.NST_FINETUNE_MAX_QUEUE,
      keepFinished: config.NST_FINETUNE_KEEP_JOBS,
      onStateChange: (job) => {
        jobsTotal.labels(job.model, job.state).inc();
        const nst = { event: 'training_job', model: job.model, job: { id: job.id, state: job.state } };
        const fields = { nst, version: job.result?.version, published: job.result?.published, reason: job.result?.reason ?? job.error ?? job.phase ?? undefined };
        if (job.state === 'failed') app.log.error(fields, `training job ${job.id} failed: ${job.error}`);
        else app.log.info(fields, `training job ${job.id} ${job.state}`);
      },
    },
  );
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

  app.post('/finetune', { preHandler: requireAdmin }, async (req, reply) => {
    const parsed = finetuneRequestSchema.safeParse(req.body ?? {});
    if (!parsed.success) throw new HttpError(400, describeIssues(parsed.error));
    const prepared = await prepareJob(parsed.data, { store, models: config.NST_MODELS, storageDir: config.NST_STORAGE_DIR, loc });
    let job;
    try {
      job = queue.submit(prepared.spec.name, prepared, prepared.steps);
    } catch (err) {
      if (err instanceof QueueFullError) throw new HttpError(429, `the training queue is full: ${err.message}`, { 'retry-after': '60' });
      throw err;
    }
    return reply
      .status(202)
      .header('location', `/jobs/${job.id}`)
      .send({ job_id: job.id, status_url: `/jobs/${job.id}`, ...publicJob(job) });
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

  app.addHook('onClose', async () => queue.close());
  return { app, queue, adminToken };
}
