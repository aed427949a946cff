/** The fine-tuning API: start a job, list, read, cancel and retry jobs; every route admin-only. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HttpError, checkBearer } from '@nst/common';
import { errorBodySchema, JOB_STATES, finetuneRequestSchema, jobListSchema, jobParamsSchema, jobSchema, jobStateSchema, type FinetuneRequest, type Job as PublicJob } from '@nst/contracts';
import { FINISHED_STATES, QueueFullError, type Job, type JobQueue } from '../jobs/jobQueue.ts';
import type { PreparedJob } from '../jobs/prepare.ts';

export interface JobRoutesOptions {
  queue: JobQueue<PreparedJob>;
  /** Checks a request against the store and the data; throws an HttpError (4xx) when it cannot run. */
  prepare: (request: FinetuneRequest) => Promise<PreparedJob>;
  adminToken: string;
  service: string;
}

const readinessSchema = z
  .object({ status: z.literal('ready'), service: z.string(), jobs: z.record(jobStateSchema, z.number().int()).describe('Jobs of this process by state') })
  .meta({ id: 'FinetuneReadiness' });

/** What GET /jobs shows of a job: its request, not the resolved file lists. */
function publicJob(job: Job<PreparedJob>): PublicJob {
  const { params, ...rest } = job;
  const last = job.loss_history.at(-1);
  return {
    ...rest,
    loss: last ? last.total : null,
    parent_version: params.parentVersion,
    request: params.request,
    dataset: { images: params.files.length, curated_uploads: params.curated.used, base_photos: params.baseCount, undecodable: params.undecodable },
  };
}

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, errorBodySchema]));

export function jobRoutes(server: FastifyInstance, o: JobRoutesOptions): void {
  const app = server.withTypeProvider<ZodTypeProvider>();
  const { queue } = o;
  // onRequest, so a caller without the token learns nothing of the body's validity.
  const admin = { onRequest: async (req: { headers: { authorization?: string } }) => checkBearer(req.headers.authorization, o.adminToken) };
  const tags = ['jobs'];
  const security = [{ bearerAuth: [] }];

  app.get('/ready', { schema: { summary: 'Ready to take jobs, with the jobs of this process by state', security: [], response: { 200: readinessSchema } } }, async () => ({
    status: 'ready' as const,
    service: o.service,
    jobs: queue.countByState(),
  }));

  const submit = (prepared: PreparedJob, retryOf?: string) => {
    try {
      return queue.submit(prepared.spec.name, prepared, prepared.steps, { retry_of: retryOf });
    } catch (err) {
      if (err instanceof QueueFullError) throw new HttpError(429, `the training queue is full: ${err.message}`, { 'retry-after': '60' });
      throw err;
    }
  };
  const accepted = (reply: FastifyReply, job: Job<PreparedJob>) => reply.status(202).header('location', `/jobs/${job.id}`).send(publicJob(job));
  const find = (id: string) => {
    const job = queue.get(id);
    if (!job) throw new HttpError(404, `no job ${id}`);
    return job;
  };

  app.post(
    '/finetune',
    {
      ...admin,
      schema: {
        summary: 'Start a fine-tuning job (queued behind the running one); Location: /jobs/:id',
        tags,
        security,
        body: finetuneRequestSchema,
        response: { 202: jobSchema, ...errors(400, 401, 404, 422, 429) },
      },
    },
    async (req, reply) => accepted(reply, submit(await o.prepare(req.body))),
  );

  app.get(
    '/jobs',
    { ...admin, schema: { summary: 'Jobs of this service, newest first (finished ones as far as kept)', tags, security, response: { 200: jobListSchema, ...errors(401) } } },
    async () => ({ jobs: queue.list().map(publicJob) }),
  );

  app.get(
    '/jobs/:id',
    { ...admin, schema: { summary: 'One job: state, progress, loss history, result', tags, security, params: jobParamsSchema, response: { 200: jobSchema, ...errors(401, 404) } } },
    async (req) => publicJob(find(req.params.id)),
  );

  app.delete(
    '/jobs/:id',
    {
      ...admin,
      schema: { summary: 'Cancel a queued or running job', tags, security, params: jobParamsSchema, response: { 200: jobSchema, ...errors(401, 404, 409) } },
    },
    async (req) => {
      const job = find(req.params.id);
      if (!queue.cancel(job.id)) throw new HttpError(409, `job ${job.id} has already ${job.state}`);
      return publicJob(job);
    },
  );

  app.post(
    '/jobs/:id/retry',
    {
      ...admin,
      schema: {
        summary: 'Run an interrupted, failed or cancelled job again: the same request from the same parent version',
        tags,
        security,
        params: jobParamsSchema,
        response: { 202: jobSchema, ...errors(401, 404, 409, 422, 429) },
      },
    },
    async (req, reply) => {
      const old = find(req.params.id);
      if (!FINISHED_STATES.has(old.state) || old.state === 'succeeded') {
        throw new HttpError(409, `job ${old.id} is ${old.state}; only ${JOB_STATES.filter((s) => s !== 'succeeded' && FINISHED_STATES.has(s)).join(', ')} jobs are retried`);
      }
      // Checked again against today's data.
      const prepared = await o.prepare({ ...old.params.request, version: old.params.parentVersion });
      return accepted(reply, submit(prepared, old.id));
    },
  );
}
