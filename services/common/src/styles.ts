/** The painting styles the platform knows, and which model name serves which style. */
import { z } from 'zod';
import modelsFile from '../models.json' with { type: 'json' };

export interface StyleInfo {
  title: string;
  artist: string;
}

/** Pretrained styles available in the data sources (models/fast-style/<style>/). */
export const STYLES: Record<string, StyleInfo> = {
  wave: { title: 'The Great Wave off Kanagawa', artist: 'Katsushika Hokusai' },
  udnie: { title: 'Udnie (Young American Girl, The Dance)', artist: 'Francis Picabia' },
  scream: { title: 'The Scream', artist: 'Edvard Munch' },
  rain_princess: { title: 'Rain Princess', artist: 'Leonid Afremov' },
  la_muse: { title: 'La Muse', artist: 'Pablo Picasso' },
  wreck: { title: 'The Shipwreck of the Minotaur', artist: 'J. M. W. Turner' },
};

export const MODEL_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

/**
 * One entry of the platform's model list (services/common/models.json): a `fast-style` model
 * serves one pretrained painting style, an `arbitrary` model takes the style image with the
 * request. Every deployment artefact is rendered from this list (scripts/deploy-render.ts).
 */
export const modelEntrySchema = z.discriminatedUnion('kind', [
  z.object({ name: z.string().regex(MODEL_NAME), kind: z.literal('fast-style'), style: z.enum(Object.keys(STYLES) as [string, ...string[]]) }).strict(),
  z.object({ name: z.string().regex(MODEL_NAME), kind: z.literal('arbitrary') }).strict(),
]);
export type ModelEntry = z.infer<typeof modelEntrySchema>;

export const modelsFileSchema = z.object({
  models: z
    .array(modelEntrySchema)
    .min(1)
    .refine((ms) => new Set(ms.map((m) => m.name)).size === ms.length, 'a model name is listed twice'),
});

/** The platform's models, in deployment order. */
export const MODEL_LIST: ModelEntry[] = modelsFileSchema.parse(modelsFile).models;

/** The NST_MODELS form (`model1=wave,…`) of a list; the setting names its fast-style models. */
export const modelsSetting = (entries: ModelEntry[]): string =>
  entries.flatMap((m) => (m.kind === 'fast-style' ? [`${m.name}=${m.style}`] : [])).join(',');

export const DEFAULT_MODELS = modelsSetting(MODEL_LIST);

export interface ModelSpec {
  name: string;
  style: string;
}

/** Parses `model1=wave,model2=udnie,…` (the NST_MODELS setting). */
export const modelListSchema = z
  .string()
  .transform((s, ctx): ModelSpec[] => {
    const specs: ModelSpec[] = [];
    for (const part of s.split(',').map((p) => p.trim()).filter(Boolean)) {
      const [name, style] = part.split('=').map((p) => p.trim());
      if (!name || !MODEL_NAME.test(name)) {
        ctx.addIssue({ code: 'custom', message: `bad model name in "${part}" (lower-case letters, digits, _ and -)` });
        return z.NEVER;
      }
      if (!style || !(style in STYLES)) {
        ctx.addIssue({ code: 'custom', message: `unknown style in "${part}"; known: ${Object.keys(STYLES).join(', ')}` });
        return z.NEVER;
      }
      if (specs.some((m) => m.name === name)) {
        ctx.addIssue({ code: 'custom', message: `model ${name} is listed twice` });
        return z.NEVER;
      }
      specs.push({ name, style });
    }
    if (specs.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'no models configured' });
      return z.NEVER;
    }
    return specs;
  });
