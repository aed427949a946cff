/**
 * A training run's progress on the shared volume (training-jobs/<id>.json), written by a
 * run in a Kubernetes Job (`cli.ts job`) and read back by the fine-tuning service that
 * launched it, so the Job's progress and result show in GET /jobs/:id as for local runs.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '@nst/common';
import type { Job } from './jobQueue.ts';

export const PROGRESS_FIELDS = ['phase', 'step', 'steps', 'loss_history', 'seconds_per_step', 'eta_seconds', 'backend', 'result', 'error'] as const;
export type JobProgress = Partial<Pick<Job, (typeof PROGRESS_FIELDS)[number]>>;

const progressFile = (storageDir: string, id: string) => path.join(storageDir, 'training-jobs', `${path.basename(id)}.json`);

export async function writeProgress(storageDir: string, job: Job): Promise<void> {
  const snapshot = Object.fromEntries(PROGRESS_FIELDS.map((k) => [k, job[k]]));
  await writeFileAtomic(progressFile(storageDir, job.id), JSON.stringify(snapshot));
}

export async function readProgress(storageDir: string, id: string): Promise<JobProgress | null> {
  const text = await readFile(progressFile(storageDir, id), 'utf8').catch(() => null);
  return text === null ? null : (JSON.parse(text) as JobProgress);
}
