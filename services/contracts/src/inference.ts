/**
 * The inference service's HTTP contract (one process per style model; the gateway is its
 * client). POST /infer takes the photo's bytes as the body and its options in the query; it
 * answers the image with the run's facts in `x-*` headers, or, with `progress=1`, a stream of
 * JSON lines (ProgressLine) ending in the same facts and then the image bytes.
 */
import { z } from 'zod';

export const outputFormatSchema = z.enum(['png', 'jpeg', 'webp']).describe('Encoding of the stylised image');
export type OutputFormat = z.infer<typeof outputFormatSchema>;

/** Content type of the progress stream (`progress=1`). */
export const INFERENCE_PROGRESS_CONTENT_TYPE = 'application/x-nst-progress';

/** The photo: any image format the service decodes, as the raw body. */
export const inferBodySchema = z
  .custom<Buffer>((b) => Buffer.isBuffer(b) && b.length > 0, { error: 'the request body must be the image bytes' })
  .meta({ type: 'string', format: 'binary', description: 'The photo (JPEG, PNG, WebP, …) as the raw body' });

/**
 * The options of POST /infer. `strength` and `preserve_colors` are the style controls as the
 * gateway forwards them (strings, validated by the controls' own definition); the upper bound
 * of `max_size` is the service's configured limit, checked on top of this.
 */
export const inferQuerySchema = z.object({
  max_size: z.coerce
    .number({ error: 'max_size must be an integer of at least 16' })
    .int({ error: 'max_size must be an integer of at least 16' })
    .min(16, { error: 'max_size must be an integer of at least 16' })
    .optional()
    .describe('Longest side of the result in px (the photo is scaled down to it); the service default when absent'),
  format: z.enum(outputFormatSchema.options, { error: `format must be one of ${outputFormatSchema.options.join(', ')}` }).default('png'),
  strength: z.string().optional().describe('Style strength from 0 to 1 (default 1)'),
  preserve_colors: z.string().optional().describe('true keeps the photo\u2019s colours (default false)'),
  version: z.string().optional().describe('A stored version of the model; the live version when absent'),
  progress: z.enum(['0', '1'], { error: 'progress must be 0 or 1' }).optional().describe('1 answers as a progress stream'),
  style: z.string().optional().describe('Id of an uploaded style image (arbitrary-style models only)'),
});
export type InferQuery = z.input<typeof inferQuerySchema>;

/** 200 of POST /infer: the image, typed by `format`, or with `progress=1` the progress stream. */
export const inferImageSchema = z
  .custom<Uint8Array | NodeJS.ReadableStream>()
  .meta({ type: 'string', format: 'binary', description: 'The stylised image, or the progress stream' });

/** The facts of one run: response headers of POST /infer, or the `result` line of the stream. */
export const inferResultHeadersSchema = z.object({
  'x-model': z.string(),
  'x-model-version': z.string(),
  'x-image-width': z.string(),
  'x-image-height': z.string(),
  'x-strength': z.string(),
  'x-preserve-colors': z.string(),
  'x-timing-decode-ms': z.string(),
  'x-timing-queue-ms': z.string(),
  'x-timing-inference-ms': z.string(),
  'x-timing-encode-ms': z.string(),
});
export type InferResultHeaders = z.infer<typeof inferResultHeadersSchema>;

/** One line of the progress stream: tiles done, then the result (followed by `bytes` image bytes) or an error. */
export const progressLineSchema = z.union([
  z.object({ tiles_done: z.number().int().nonnegative(), tiles_total: z.number().int().positive() }),
  z.object({ result: inferResultHeadersSchema, bytes: z.number().int().nonnegative() }),
  z.object({ error: z.object({ statusCode: z.number().int(), message: z.string() }) }),
]);
export type ProgressLine = z.infer<typeof progressLineSchema>;

/** A version latest.txt names that the service refused to switch to (the previous one keeps serving). */
export const loadFailureSchema = z.object({
  version: z.string(),
  reason: z.string(),
  at: z.string().describe('ISO time of the failure'),
});
export type LoadFailure = z.infer<typeof loadFailureSchema>;

/** GET /ready, 200: a live version is loaded. */
export const inferenceReadySchema = z.object({
  status: z.literal('ready'),
  model: z.string(),
  style: z.string(),
  kind: z.enum(['fast-style', 'arbitrary']),
  version: z.string(),
  loaded: z.array(z.string()).describe('Versions held in memory, the live one first'),
  failed: loadFailureSchema.optional(),
});
export type InferenceReady = z.infer<typeof inferenceReadySchema>;

/** GET /ready, 503: no version loaded yet, or the process is stopping. */
export const inferenceNotReadySchema = z.object({
  status: z.enum(['loading', 'draining']),
  model: z.string().optional(),
  service: z.string().optional(),
});
export type InferenceNotReady = z.infer<typeof inferenceNotReadySchema>;
