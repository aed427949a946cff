/** The inference service's configuration, validated once at start-up. */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { booleanFlag, parseConfig, positiveInt, serverLimitsEnv, sharedEnv } from '@nst/common';

const schema = z
  .object({
    ...sharedEnv,
    ...serverLimitsEnv,
    // A run holds the event loop for seconds; a keep-alive timer that fires right after one
    // would reset a connection the gateway has just reused. Keep idle connections longer
    // than the gateway's pool does (30 s), so the gateway always closes first.
    NST_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().positive().default(75_000),
    /** Which model this process serves (a name from NST_MODELS). */
    NST_MODEL: z.string().default('model1'),
    /** Port; defaults to 8000 + the model's position in NST_MODELS (model1 → 8001). */
    NST_INFERENCE_PORT: z.coerce.number().int().min(1).max(65535).optional(),
    NST_MAX_SIDE_DEFAULT: positiveInt(1024),
    NST_MAX_SIDE_LIMIT: positiveInt(2048),
    NST_MAX_PIXELS: positiveInt(50_000_000),
    NST_MAX_UPLOAD_BYTES: positiveInt(25 * 1024 * 1024),
    /**
     * onnxruntime intra-op threads; 0 lets onnxruntime use every core. Unset: the host's
     * cores divided among the inference processes on it (NST_INFERENCE_PROCESSES), so
     * they do not oversubscribe the machine.
     */
    NST_ORT_THREADS: z.coerce.number().int().min(0).optional(),
    /** Inference processes sharing this host's cores; defaults to the number of models. */
    NST_INFERENCE_PROCESSES: z.coerce.number().int().positive().optional(),
    /** onnxruntime's CPU memory arena: faster repeat runs, but a large run's memory stays held. */
    NST_ORT_MEM_ARENA: booleanFlag(false),
    /** Requests run at once; more wait in a queue of NST_QUEUE_SIZE, then get 503. */
    NST_INFER_CONCURRENCY: positiveInt(1),
    NST_QUEUE_SIZE: z.coerce.number().int().min(0).default(16),
    NST_RELOAD_INTERVAL_MS: positiveInt(1000),
    /** Versions other than the live one kept loaded (pinned or canary versions). */
    NST_EXTRA_VERSIONS: z.coerce.number().int().min(0).default(2),
  })
  .transform((c, ctx) => {
    const index = c.NST_MODELS.findIndex((m) => m.name === c.NST_MODEL);
    if (index < 0) {
      ctx.addIssue({ code: 'custom', path: ['NST_MODEL'], message: `${c.NST_MODEL} is not in NST_MODELS (${c.NST_MODELS.map((m) => m.name).join(', ')})` });
      return z.NEVER;
    }
    const processes = c.NST_INFERENCE_PROCESSES ?? c.NST_MODELS.length;
    const threads = c.NST_ORT_THREADS ?? Math.max(1, Math.floor(availableParallelism() / processes));
    return { ...c, style: c.NST_MODELS[index]!.style, port: c.NST_INFERENCE_PORT ?? 8001 + index, threads };
  });

export type InferenceConfig = z.output<typeof schema>;
export const loadInferenceConfig = (env: NodeJS.ProcessEnv = process.env): InferenceConfig => parseConfig(schema, env);
