/**
 * Runs a queued job as a Kubernetes Job (the JobQueue still admits one at a time): launch,
 * mirror the run's progress file into the job while it runs, then take its result.
 *
 * The Kubernetes Job outlives this process: when the service stops, the runner stops
 * following (RunDetachedError) and never deletes it; a restarted service resumes the job
 * (`resumed`) and follows the same Job to its end. Only a cancellation deletes it.
 */
import { trainingJobName, type KubernetesJobLauncher } from './kubernetesLauncher.ts';
import { PROGRESS_FIELDS, readProgress } from './jobProgress.ts';
import type { JobResult } from '@nst/contracts';
import { QueueShutdown, RunDetachedError, type Job, type JobRunner } from './jobQueue.ts';
import type { PreparedJob } from './prepare.ts';

export function kubernetesRunner(launcher: KubernetesJobLauncher, storageDir: string): JobRunner<PreparedJob> {
  return async (job: Job<PreparedJob>, signal: AbortSignal, resumed: boolean): Promise<JobResult> => {
    const mirror = async () => {
      const p = await readProgress(storageDir, job.id);
      if (p) for (const k of PROGRESS_FIELDS) if (p[k] !== undefined) (job as unknown as Record<string, unknown>)[k] = p[k];
      return p;
    };
    const name = trainingJobName(job.id);
    const existing = resumed ? await launcher.find(name) : null;
    if (resumed && !existing) {
      // Finished and removed (TTL) while no service followed it: its progress file tells how.
      const p = await mirror();
      if (p?.result && !p.error) return p.result;
      if (p?.error) throw new Error(p.error);
    }
    if (!existing) {
      // The parent version is pinned: the Job trains from what this service checked.
      await launcher.launch({ id: job.id, model: job.model, params: { ...job.params.request, version: job.params.parentVersion } });
    }
    job.kubernetes_job = name;
    job.phase = `kubernetes job ${name}`;
    const timer = setInterval(() => void mirror(), 2000);
    const onAbort = () => {
      if (!(signal.reason instanceof QueueShutdown)) void launcher.cancel(name);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      let outcome;
      try {
        outcome = await launcher.wait(name, { signal });
      } catch (err) {
        if (signal.reason instanceof QueueShutdown) throw new RunDetachedError(`left Kubernetes Job ${name} running`);
        throw err;
      }
      await mirror();
      if (outcome !== 'failed' && job.result && !job.error) return job.result;
      const tail = outcome === 'gone' ? '' : await launcher.logs(name).catch(() => '');
      throw new Error(job.error ?? `training Job ${name} ${outcome === 'gone' ? 'was deleted before it reported a result' : outcome}${tail ? `: ${tail.trim().split('\n').slice(-5).join(' | ')}` : ''}`);
    } finally {
      clearInterval(timer);
      signal.removeEventListener('abort', onAbort);
    }
  };
}
