/** Start-up of the fine-tuning service: the saved jobs go back into its queue. */
import type { FastifyBaseLogger } from 'fastify';
import type { JobRecords } from '@nst/common';
import type { JobQueue, Job } from './jobQueue.ts';
import { jobState, trainingJobName, type KubernetesJobLauncher } from './kubernetesLauncher.ts';
import type { PreparedJob } from './prepare.ts';

/**
 * Start-up: the saved jobs go back into the queue. With the Kubernetes runner, the service's
 * Jobs (by label) are listed: a saved running job, or a queued one whose Job exists already,
 * is followed again; a Job without a record is reported, not touched.
 */
export async function restoreJobs(queue: JobQueue<PreparedJob>, records: JobRecords<Job<PreparedJob>>, launcher: KubernetesJobLauncher | null, log: FastifyBaseLogger): Promise<void> {
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
