/** The painting styles the platform knows, and which model name serves which style. */
import { z } from 'zod';
import { MODEL_NAME } from '@nst/contracts';
import modelsFile from '../models.json' with { type: 'json' };

/**
 * `fast-style`: a network trained for one painting (fast-style-transfer), fine-tunable.
 * `arbitrary`: MicroAST, which takes any style image with each request.
 */
export type ModelKind = 'fast-style' | 'arbitrary';

export interface StyleInfo {
  title: string;
  artist: string;
  kind: ModelKind;
}

/** Pretrained styles available in the data sources (models/fast-style/<style>/). */
export const STYLES: Record<string, StyleInfo> = {
  wave: { title: 'The Great Wave off Kanagawa', artist: 'Katsushika Hokusai', kind: 'fast-style' },
  udnie: { title: 'Udnie (Young American Girl, The Dance)', artist: 'Francis Picabia', kind: 'fast-style' },
  scream: { title: 'The Scream', artist: 'Edvard Munch', kind: 'fast-style' },
  rain_princess: { title: 'Rain Princess', artist: 'Leonid Afremov', kind: 'fast-style' },
  la_muse: { title: 'La Muse', artist: 'Pablo Picasso', kind: 'fast-style' },
  wreck: { title: 'The Shipwreck of the Minotaur', artist: 'J. M. W. Turner', kind: 'fast-style' },
  /** MicroAST (models/microast/): the style image comes with each request. */
  arbitrary: { title: 'Your painting', artist: 'any style image you upload', kind: 'arbitrary' },
};

/** The arbitrary-style model as NST_MODELS names it, e.g. `…,custom=arbitrary`. */
const ARBITRARY_STYLE = 'arbitrary';

export { MODEL_NAME };

/**
 * One entry of the platform's model list (services/common/models.json): a `fast-style` model
 * serves one pretrained painting style, an `arbitrary` model takes the style image with the
 * request. Every deployment artefact is rendered from this list (scripts/deploy-render.ts).
 */
const modelEntrySchema = z.discriminatedUnion('kind', [
  z.object({ name: z.string().regex(MODEL_NAME), kind: z.literal('fast-style'), style: z.enum(Object.keys(STYLES).filter((k) => STYLES[k]!.kind === 'fast-style') as [string, ...string[]]) }).strict(),
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

/** The NST_MODELS form (`model1=wave,…,custom=arbitrary`) of a list. */
export const modelsSetting = (entries: ModelEntry[]): string => entries.map((m) => `${m.name}=${m.kind === 'fast-style' ? m.style : ARBITRARY_STYLE}`).join(',');

export const DEFAULT_MODELS = modelsSetting(MODEL_LIST);

export interface ModelSpec {
  name: string;
  style: string;
}

/** A model's kind follows from its style. */
export const modelKind = (spec: Pick<ModelSpec, 'style'>): ModelKind => STYLES[spec.style]?.kind ?? 'fast-style';

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
