/** GET /api/models and a version's model card. */
import { z } from 'zod';

export const modelInfoSchema = z
  .object({
    name: z.string(),
    /** arbitrary: the style is a painting the user uploads (POST /api/styles). */
    kind: z.enum(['fast-style', 'arbitrary']),
    style: z.string(),
    title: z.string(),
    artist: z.string(),
    live_version: z.string().nullable(),
    versions: z.array(z.string()),
    /** A candidate version getting a share of traffic, if any. */
    canary: z.object({ version: z.string(), percent: z.number() }).nullable(),
    style_image_url: z.string().nullable(),
    thumbnail_url: z.string().nullable(),
  })
  .meta({ id: 'ModelInfo' });
export type ModelInfo = z.infer<typeof modelInfoSchema>;

export const modelsResponseSchema = z.object({ models: z.array(modelInfoSchema) });
export type ModelsResponse = z.infer<typeof modelsResponseSchema>;

export const versionParamsSchema = z.object({ model: z.string(), version: z.string().describe('<model>_v<N>') });
export type VersionParams = z.infer<typeof versionParamsSchema>;
