/** Path and query parameters several gateway routes share. */
import { z } from 'zod';

/** Routes under /api/models/:model (an unknown model is a 404 of the route, not a 400). */
export const modelParamsSchema = z.object({ model: z.string().describe('A model name from GET /api/models') });
export type ModelParams = z.infer<typeof modelParamsSchema>;

/** ?w=N: a thumbnail N px wide instead of the full image. */
export const thumbnailQuerySchema = z.object({
  w: z.coerce
    .number({ error: 'w must be an integer from 16 to 1024' })
    .int({ error: 'w must be an integer from 16 to 1024' })
    .min(16, { error: 'w must be an integer from 16 to 1024' })
    .max(1024, { error: 'w must be an integer from 16 to 1024' })
    .optional()
    .describe('Width of a thumbnail in px (16..1024); absent: the full image'),
});
export type ThumbnailQuery = z.infer<typeof thumbnailQuerySchema>;
