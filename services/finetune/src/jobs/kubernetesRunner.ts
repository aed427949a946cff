/**
 * Runs a queued job as a Kubernetes Job (the JobQueue still admits one at a time): launch,
 * mirror the run's progress file into the job while it runs, then take its result.
 */
import { PROGRESS_FIELDS, readProgress } from './jobProgress.ts';
import type { Job, JobResult, JobRunner } from './jobQueue.ts';
import type { PreparedJob } from './prepare.ts';
import type { KubernetesJobLauncher } from '../k8sJobLauncher.ts';

export function kubernetesRunner(launcher: KubernetesJobLauncher, storageDir: string): JobRunner<PreparedJob> {
  return async (job: Job<PreparedJob>, signal: AbortSignal): Promise<JobResult> => {
    const name = await launcher.launch({ id: job.id, model: job.model, params: job.params.request as unknown as Record<string, unknown> });
    job.phase = `kubernetes job ${name}`;
    const mirror = async () => {
      const p = await readProgress(storageDir, job.id);
      if (p) for (const k of PROGRESS_FIELDS) if (p[k] !== undefined) (job as unknown as Record<string, unknown>)[k] = p[k];
    };
    const timer = setInterval(() => void mirror(), 2000);
    const onAbort = () => void launcher.cancel(name);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const outcome = await launcher.wait(name, { signal });
      await mirror();
      if (outcome === 'succeeded' && job.result) return job.result;
      const tail = await launcher.logs(name).catch(() => '');
      throw new Error(job.error ?? `training Job ${name} ${outcome}${tail ? `: ${tail.trim().split('\n').slice(-5).join(' | ')}` : ''}`);
    } finally {
      clearInterval(timer);
      signal.removeEventListener('abort', onAbort);
    }
  };
}
