/** POST /api/stylize: a photo and a model in (multipart/form-data), a stored stylised image out. */
import { z } from 'zod';
import { outputFormatSchema } from './inference.ts';
import { routingReasonSchema } from './records.ts';

export const OUTPUT_FORMATS = outputFormatSchema.options;

/** The text fields of the form, as sent (multipart values are strings); the route checks their values. */
export const stylizeFieldsSchema = z.object({
  model: z.string().describe('A model name from GET /api/models'),
  max_size: z.string().optional().describe('Longest side of the result in px, 16..the server limit (default 1024)'),
  format: z.enum(OUTPUT_FORMATS, { error: `format must be one of ${OUTPUT_FORMATS.join(', ')}` }).optional().describe('Encoding of the result (default png)'),
  style: z.string().optional().describe('For an arbitrary-style model: an id from POST /api/styles'),
  strength: z.string().optional().describe('Style strength, 0..1 (default 1)'),
  preserve_colors: z.string().optional().describe("true: keep the photo's colours, take only the luminance of the style"),
});
export type StylizeFields = z.infer<typeof stylizeFieldsSchema>;

/** The whole form, files included (documents the body; the gateway streams it, see uploadForm.ts). */
export const stylizeFormSchema = stylizeFieldsSchema
  .extend({
    image: z.file().describe('The photo (JPEG, PNG, WebP, GIF, TIFF, AVIF, HEIF)'),
    style_image: z.file().optional().describe('For an arbitrary-style model: the painting, instead of "style"'),
  })
  .meta({ id: 'StylizeForm' });

export const stylizeResponseSchema = z
  .object({
    model: z.string(),
    version: z.string(),
    routing: routingReasonSchema,
    content_image_filename: z.string(),
    output_image_filename: z.string(),
    input_url: z.string(),
    output_url: z.string(),
    width: z.number().int(),
    height: z.number().int(),
    strength: z.number(),
    preserve_colors: z.boolean(),
    style: z.string().optional(),
    /** Where the time went (ms): the gateway's own steps, and the inference service's as it reports them. */
    timings: z.object({
      upload_ms: z.number(),
      forward_ms: z.number(),
      decode_ms: z.number().optional(),
      queue_ms: z.number().optional(),
      inference_ms: z.number().optional(),
      encode_ms: z.number().optional(),
      save_ms: z.number(),
      total_ms: z.number(),
    }),
    request_id: z.string(),
  })
  .meta({ id: 'StylizeResult' });
export type StylizeResult = z.infer<typeof stylizeResponseSchema>;

/** With Accept: application/x-ndjson, the lines before the last: tiles done of a large photo. */
export const stylizeProgressLineSchema = z.object({ tiles_done: z.number().int(), tiles_total: z.number().int() });
/** The last line of the progress stream: the result, or the error that ended the work. */
export const stylizeFinalLineSchema = z.union([
  z.object({ result: stylizeResponseSchema }),
  z.object({ error: z.object({ statusCode: z.number().int(), message: z.string() }) }),
]);
export type StylizeProgressLine = z.infer<typeof stylizeProgressLineSchema>;
export type StylizeFinalLine = z.infer<typeof stylizeFinalLineSchema>;
