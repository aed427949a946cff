/** Building blocks for each service's one zod-validated configuration. */
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_DATA_UPSTREAM } from './dataSources.ts';
import { DEFAULT_MODELS, modelListSchema } from './styles.ts';

export const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);
export const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
export const booleanFlag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Settings every service shares (same variable names everywhere). */
export const sharedEnv = {
  NST_STORAGE_DIR: z.string().default('./persistent_storage').transform((p) => path.resolve(p)),
  /** A folder laid out like shared/data; unset means download from upstream. */
  NST_DATA_MIRROR: z
    .string()
    .optional()
    .transform((p) => (p ? path.resolve(p) : undefined)),
  /** Base URL the pinned repositories are downloaded from: GitHub's raw host or a proxy laid out like it. */
  NST_DATA_UPSTREAM: z.url({ protocol: /^https?$/ }).default(DEFAULT_DATA_UPSTREAM),
  NST_MODELS: z.string().default(DEFAULT_MODELS).pipe(modelListSchema),
  NST_HOST: z.string().default('127.0.0.1'),
  /** postgres://… : keep ratings, requests, routing and history in PostgreSQL (else in files). */
  NST_DATABASE_URL: z
    .string()
    .optional()
    .transform((s) => s || undefined)
    .refine((s) => s === undefined || /^postgres(ql)?:\/\//.test(s), 'must be a postgres:// or postgresql:// URL'),
  /** How long a stopping service keeps finishing in-flight requests (below the pod's terminationGracePeriodSeconds). */
  NST_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(20_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

export class ConfigError extends Error {}

/** Parses the environment; a wrong setting is one clear error listing every problem. */
export function parseConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(config)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}
