/**
 * Request-time controls on a stylised image: style strength and keeping the photo's colours.
 *
 * Strength, for the feed-forward style networks, is a linear blend in pixel space of the
 * stylised image and the (resized) photo: out = s * stylised + (1 - s) * photo. Those networks
 * have no content-only path to interpolate features with, a pixel blend costs nothing, and its
 * end points are exact: strength 0 gives the network's input photo back, strength 1 today's
 * output. The arbitrary-style network (MicroAST) uses the same blend: its own alpha is not a
 * usable control (see inference/src/arbitraryRunner.ts), though its graphs keep the input.
 *
 * Preserving colours takes only the luminance from the stylised image and keeps the photo's
 * chroma, in YCbCr (BT.601). Replacing Y while keeping Cb and Cr is, in RGB, adding the same
 * luminance difference to every channel, which is what this does.
 */
import { z } from 'zod';

export interface StyleControls {
  /** 0..1; 1 is the full style. */
  strength: number;
  preserveColors: boolean;
}

/** `strength` and `preserve_colors` as form or query fields (strings), validated once. */
const styleControlFields = z.object({
  strength: z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined || s.trim() === '') return 1;
      const v = Number(s);
      if (!Number.isFinite(v) || v < 0 || v > 1) {
        ctx.addIssue({ code: 'custom', message: 'strength must be a number from 0 to 1' });
        return z.NEVER;
      }
      return v;
    }),
  preserve_colors: z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined || s === '' || s === 'false' || s === '0') return false;
      if (s === 'true' || s === '1' || s === 'on') return true;
      ctx.addIssue({ code: 'custom', message: 'preserve_colors must be true or false' });
      return z.NEVER;
    }),
});

/** Parses the two fields; the message of the first problem when they are invalid. */
export function parseStyleControls(fields: { strength?: string; preserve_colors?: string }): StyleControls | { error: string } {
  const r = styleControlFields.safeParse({ strength: fields.strength, preserve_colors: fields.preserve_colors });
  if (!r.success) return { error: r.error.issues[0]!.message };
  return { strength: r.data.strength, preserveColors: r.data.preserve_colors };
}

const luma = (r: number, g: number, b: number) => 0.299 * r + 0.587 * g + 0.114 * b;

/**
 * Applies the controls in place on `stylised` (HWC RGB 0..255, same size as `photo`).
 * `blendStrength` is false for networks that applied the strength themselves.
 */
export function applyStyleControls(stylised: Float32Array, photo: Float32Array, controls: StyleControls, blendStrength = true): Float32Array {
  if (stylised.length !== photo.length) throw new Error(`stylised (${stylised.length}) and photo (${photo.length}) differ in size`);
  const s = blendStrength ? controls.strength : 1;
  if (s === 1 && !controls.preserveColors) return stylised;
  for (let i = 0; i < stylised.length; i += 3) {
    let r = stylised[i]!;
    let g = stylised[i + 1]!;
    let b = stylised[i + 2]!;
    const pr = photo[i]!;
    const pg = photo[i + 1]!;
    const pb = photo[i + 2]!;
    if (controls.preserveColors) {
      const dy = luma(r, g, b) - luma(pr, pg, pb);
      r = pr + dy;
      g = pg + dy;
      b = pb + dy;
    }
    stylised[i] = clip(s * r + (1 - s) * pr);
    stylised[i + 1] = clip(s * g + (1 - s) * pg);
    stylised[i + 2] = clip(s * b + (1 - s) * pb);
  }
  return stylised;
}

const clip = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);
