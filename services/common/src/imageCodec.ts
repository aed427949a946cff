/**
 * Image decoding and encoding for the network, with sharp. Every input is turned into
 * 8-bit sRGB without alpha (EXIF orientation applied, transparency flattened on white,
 * grayscale, CMYK and 16-bit converted), sized so each side is a multiple of 4.
 */
import sharp, { type Metadata } from 'sharp';
import { roundToNetworkSize } from './network/styleNet.ts';
import { HttpError } from './httpService.ts';

import type { OutputFormat } from '@nst/contracts';
export { OUTPUT_FORMATS, type OutputFormat } from '@nst/contracts';
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

/** Target size: longest side at most maxSide (never upscaled), both sides multiples of 4. */
export function networkSize(width: number, height: number, maxSide: number): { width: number; height: number } {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  return { width: roundToNetworkSize(width * scale), height: roundToNetworkSize(height * scale) };
}

export interface NetworkInput {
  /** HWC RGB float32 0..255. */
  data: Float32Array;
  width: number;
  height: number;
  source: ImageInfo;
}

export async function decodeForNetwork(bytes: Uint8Array, maxSide: number, maxPixels: number): Promise<NetworkInput> {
  const source = await probeImage(bytes, maxPixels);
  const size = networkSize(source.width, source.height, maxSide);
  try {
    const { data } = await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' })
      .rotate()
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .resize(size.width, size.height, { fit: 'fill' })
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (data.length !== size.width * size.height * 3) throw new Error(`decoded ${data.length} bytes for ${size.width}x${size.height}`);
    return { data: Float32Array.from(data), width: size.width, height: size.height, source };
  } catch (err) {
    throw new HttpError(422, `the image cannot be decoded: ${(err as Error).message}`);
  }
}

/** HWC RGB 0..255 floats (already clipped) → encoded image. */
export async function encodeImage(pixels: Float32Array, width: number, height: number, format: OutputFormat): Promise<Buffer> {
  const bytes = new Uint8Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) bytes[i] = pixels[i]! + 0.5; // Uint8Array truncates: +0.5 rounds
  const img = sharp(bytes, { raw: { width, height, channels: 3 } });
  if (format === 'jpeg') return img.jpeg({ quality: 92, mozjpeg: false }).toBuffer();
  if (format === 'webp') return img.webp({ quality: 90 }).toBuffer();
  return img.png({ compressionLevel: 6 }).toBuffer();
}
