import { z } from 'zod';

/**
 * GET /api/config: the server's limits the browser UI checks before uploading, so a file
 * it would refuse is refused at once, with the same limit in the message.
 */
export const uiConfigSchema = z
  .object({
    max_upload_bytes: z.number().int().positive().describe('Largest photo POST /api/stylize accepts (NST_MAX_UPLOAD_BYTES)'),
    max_style_bytes: z.number().int().positive().describe('Largest painting POST /api/styles accepts (NST_MAX_STYLE_BYTES)'),
  })
  .describe('Limits the browser UI checks before uploading')
  .meta({ id: 'UiConfig' });
export type UiConfig = z.infer<typeof uiConfigSchema>;
