/**
 * What an uploaded image is, read from its header with sharp before anything decodes it, and
 * the formats results come back in.
 */
import sharp, { type Metadata } from 'sharp';
import type { OutputFormat } from '@nst/contracts';
import { HttpError } from './httpService.ts';

export type { OutputFormat } from '@nst/contracts';
export const CONTENT_TYPES: Record<OutputFormat, string> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };
const INPUT_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif']);

export interface ImageInfo {
  format: string;
  /** Displayed size, after EXIF orientation. */
  width: number;
  height: number;
}

/**
 * Reads only the header: 415 when it is no image format we take, 422 when it cannot be
 * parsed, 413 when the declared pixel count is over the limit (decompression bombs).
 * Takes the bytes or the path of a file holding them.
 */
export async function probeImage(bytes: Uint8Array | string, maxPixels: number): Promise<ImageInfo> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    const msg = (err as Error).message;
    if (/unsupported image format/i.test(msg)) throw new HttpError(415, 'the upload is not an image (supported: JPEG, PNG, WebP, GIF, TIFF, AVIF)');
    throw new HttpError(422, `the image cannot be decoded: ${msg}`);
  }
  if (!meta.format || !INPUT_FORMATS.has(meta.format)) {
    throw new HttpError(415, `unsupported image format ${meta.format ?? 'unknown'} (supported: JPEG, PNG, WebP, GIF, TIFF, AVIF)`);
  }
  if (!meta.width || !meta.height) throw new HttpError(422, 'the image has no dimensions');
  if (meta.width * meta.height > maxPixels) {
    throw new HttpError(413, `the image has ${meta.width}x${meta.height} pixels, more than the limit of ${maxPixels}`);
  }
  const rotated = (meta.orientation ?? 1) >= 5;
  return { format: meta.format, width: rotated ? meta.height : meta.width, height: rotated ? meta.width : meta.height };
}
