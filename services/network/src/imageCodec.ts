/**
 * Image decoding and encoding for the network, with sharp. Every input is turned into
 * 8-bit sRGB without alpha (EXIF orientation applied, transparency flattened on white,
 * grayscale, CMYK and 16-bit converted), sized so each side is a multiple of 4. The header
 * check before decoding is @nst/common's probeImage, the one the gateway checks uploads with.
 */
import sharp from 'sharp';
import { HttpError, probeImage, type ImageInfo, type OutputFormat } from '@nst/common';
import { roundToNetworkSize } from './styleNet.ts';

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
