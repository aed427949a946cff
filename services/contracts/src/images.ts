/** GET /api/images/{inputs,outputs}/:name: stored uploads and results, by server-made names. */
import { z } from 'zod';

export const imageParamsSchema = z.object({
  kind: z.string().describe('inputs (uploads) or outputs (results)'),
  name: z.string().describe('A file name from a stylise answer'),
});
export type ImageParams = z.infer<typeof imageParamsSchema>;
