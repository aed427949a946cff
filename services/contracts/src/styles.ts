/** POST /api/styles and GET /api/styles: style images (paintings) for the arbitrary-style model. */
import { z } from 'zod';

export const styleImageSchema = z
  .object({
    id: z.string(),
    title: z.string(),
    width: z.number().int(),
    height: z.number().int(),
    created_at: z.string(),
    image_url: z.string(),
    thumbnail_url: z.string(),
  })
  .meta({ id: 'StyleImage' });
export type StyleImage = z.infer<typeof styleImageSchema>;

export const styleListSchema = z.object({ styles: z.array(styleImageSchema) });
export type StyleList = z.infer<typeof styleListSchema>;

/** The upload form (documents the body; the gateway reads it as a stream). */
export const styleFormSchema = z
  .object({
    image: z.file().describe('The painting'),
    title: z.string().max(200).optional(),
  })
  .meta({ id: 'StyleForm' });

export const styleParamsSchema = z.object({ id: z.string().describe('An id from POST /api/styles') });
export type StyleParams = z.infer<typeof styleParamsSchema>;
