/** The painting styles the platform knows, and which model name serves which style. */
import { z } from 'zod';

/**
 * `feedforward`: a network trained for one painting (fast-style-transfer), fine-tunable.
 * `arbitrary`: MicroAST, which takes any style image with each request.
 */
export type ModelKind = 'feedforward' | 'arbitrary';

export interface StyleInfo {
  title: string;
  artist: string;
  kind: ModelKind;
}

/** Pretrained styles available in the data sources (models/fast-style/<style>/). */
export const STYLES: Record<string, StyleInfo> = {
  wave: { title: 'The Great Wave off Kanagawa', artist: 'Katsushika Hokusai', kind: 'feedforward' },
  udnie: { title: 'Udnie (Young American Girl, The Dance)', artist: 'Francis Picabia', kind: 'feedforward' },
  scream: { title: 'The Scream', artist: 'Edvard Munch', kind: 'feedforward' },
  rain_princess: { title: 'Rain Princess', artist: 'Leonid Afremov', kind: 'feedforward' },
  la_muse: { title: 'La Muse', artist: 'Pablo Picasso', kind: 'feedforward' },
  wreck: { title: 'The Shipwreck of the Minotaur', artist: 'J. M. W. Turner', kind: 'feedforward' },
  /** MicroAST (models/microast/): the style image comes with each request. */
  arbitrary: { title: 'Your painting', artist: 'any style image you upload', kind: 'arbitrary' },
};

/** The arbitrary-style model as NST_MODELS names it, e.g. `…,custom=arbitrary`. */
export const ARBITRARY_STYLE = 'arbitrary';

export const DEFAULT_MODELS = 'model1=wave,model2=udnie,model3=scream,model4=rain_princess';

export const MODEL_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

export interface ModelSpec {
  name: string;
  style: string;
}

/** A model's kind follows from its style. */
export const modelKind = (spec: Pick<ModelSpec, 'style'>): ModelKind => STYLES[spec.style]?.kind ?? 'feedforward';

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
