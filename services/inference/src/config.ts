/** The inference service's configuration, validated once at start-up. */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { booleanFlag, modelKind, parseConfig, positiveInt, serverLimitsEnv, sharedEnv } from '@nst/common';
import { localInferencePorts } from '@nst/common/localPorts';

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
    /** Port; defaults to the model's local port (consecutive from 8001, stepping over the gateway's and fine-tuning's). */
    NST_INFERENCE_PORT: z.coerce.number().int().min(1).max(65535).optional(),
    NST_MAX_SIDE_DEFAULT: positiveInt(1024),
    NST_MAX_SIDE_LIMIT: positiveInt(4096),
    /** Photos with a longer side than this run in tiles (memory stays bounded at any size). */
    NST_UNTILED_MAX_SIDE: positiveInt(1024),
    /** Tile side and overlap (multiples of 4); normalisation statistics from a thumbnail this big. */
    NST_TILE_SIZE: positiveInt(640).refine((n) => n % 4 === 0 && n >= 128, 'must be a multiple of 4, at least 128'),
    NST_TILE_OVERLAP: positiveInt(128).refine((n) => n % 4 === 0, 'must be a multiple of 4'),
    NST_THUMBNAIL_SIDE: positiveInt(1280),
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
    if (c.NST_TILE_OVERLAP * 2 >= c.NST_TILE_SIZE) {
      ctx.addIssue({ code: 'custom', path: ['NST_TILE_OVERLAP'], message: 'must be less than half of NST_TILE_SIZE' });
      return z.NEVER;
    }
    const tiling = {
      untiledMaxSide: c.NST_UNTILED_MAX_SIDE,
      thumbnailSide: c.NST_THUMBNAIL_SIDE,
      tiles: { tile: c.NST_TILE_SIZE, overlap: c.NST_TILE_OVERLAP, margin: Math.floor(c.NST_TILE_OVERLAP / 4) },
    };
    const processes = c.NST_INFERENCE_PROCESSES ?? c.NST_MODELS.length;
    const threads = c.NST_ORT_THREADS ?? Math.max(1, Math.floor(availableParallelism() / processes));
    const spec = c.NST_MODELS[index]!;
    return { ...c, tiling, style: spec.style, kind: modelKind(spec), port: c.NST_INFERENCE_PORT ?? localInferencePorts(c.NST_MODELS.length)[index]!, threads };
  });

export type InferenceConfig = z.output<typeof schema>;
export const loadInferenceConfig = (env: NodeJS.ProcessEnv = process.env): InferenceConfig => parseConfig(schema, env);
