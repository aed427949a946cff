/** The fine-tuning service's configuration, validated once at start-up. */
import os from 'node:os';
import { z } from 'zod';
import { parseConfig, port, positiveInt, sharedEnv } from '@nst/common';
import { k8sRunnerEnv } from './jobs/kubernetesLauncher.ts';
import { FINETUNE_BACKENDS } from './engine/tfBackend.ts';

const schema = z.object({
  /** local: in-process worker threads; kubernetes: one batch/v1 Job per training run. */
  ...k8sRunnerEnv,
  ...sharedEnv,
  NST_FINETUNE_PORT: port(8005),
  /** Admin bearer token; when unset, read from (or generated into) <storage>/admin_token. */
  NST_ADMIN_TOKEN: z.string().min(16).optional(),
  /** TF.js backend for training: auto (tfjs-node when it loads, else wasm), node or wasm. */
  NST_FINETUNE_BACKEND: z.enum(FINETUNE_BACKENDS).default('onnx'),
  /** Threads a training run uses (wasm backend); default every core. */
  NST_FINETUNE_THREADS: positiveInt(os.availableParallelism()),
  /** Jobs waiting behind the running one; more are refused with 429. */
  NST_FINETUNE_MAX_QUEUE: z.coerce.number().int().min(0).default(8),
  /** Finished jobs kept (in memory and in the platform store's job records) for GET /jobs. */
  NST_FINETUNE_KEEP_JOBS: positiveInt(100),
});

export type FinetuneConfig = z.output<typeof schema>;
export const loadFinetuneConfig = (env: NodeJS.ProcessEnv = process.env): FinetuneConfig => parseConfig(schema, env);
