/** The inference service's configuration, validated once at start-up. */
import { z } from 'zod';
import { modelKind, parseConfig, positiveInt, sharedEnv } from '@nst/common';

const schema = z
  .object({
    ...sharedEnv,
    /** Which model this process serves (a name from NST_MODELS). */
    NST_MODEL: z.string().default('model1'),
    /** Port; defaults to 8000 + the model's position in NST_MODELS (model1 → 8001). */
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
    /** onnxruntime intra-op threads; 0 lets onnxruntime use every core. */
    NST_ORT_THREADS: z.coerce.number().int().min(0).default(0),
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
    const spec = c.NST_MODELS[index]!;
    return { ...c, tiling, style: spec.style, kind: modelKind(spec), port: c.NST_INFERENCE_PORT ?? 8001 + index };
  });

export type InferenceConfig = z.output<typeof schema>;
export const loadInferenceConfig = (env: NodeJS.ProcessEnv = process.env): InferenceConfig => parseConfig(schema, env);
