import sharp, { type Color } from 'sharp';
import { describe, expect, it } from 'vitest';
import { HttpError, probeImage } from '@nst/common';
import { decodeForNetwork, encodeImage, networkSize } from '../src/index.ts';

const LIMIT = 50_000_000;
const solid = (width: number, height: number, channels: 3 | 4, background: Color) => sharp({ create: { width, height, channels, background } });

async function statusOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    return (err as HttpError).statusCode;
  }
}

describe('image decoding for the network', () => {
  it('sizes to multiples of 4 within the longest side, never upscaling', () => {
    expect(networkSize(481, 321, 1024)).toEqual({ width: 480, height: 320 });
    expect(networkSize(4000, 3000, 1024)).toEqual({ width: 1024, height: 768 });
    expect(networkSize(3, 2, 1024)).toEqual({ width: 4, height: 4 });
  });

  it('applies EXIF orientation', async () => {
    // Stored 40x20, orientation 6 (rotate 90°): displayed 20x40.
    const jpeg = await solid(40, 20, 3, '#ff0000').jpeg().withMetadata({ orientation: 6 }).toBuffer();
    expect(await probeImage(jpeg, LIMIT)).toMatchObject({ width: 20, height: 40 });
    const d = await decodeForNetwork(jpeg, 1024, LIMIT);
    expect([d.width, d.height]).toEqual([20, 40]);
  });

  it('flattens alpha on white, converts grayscale, CMYK and 16-bit input to 8-bit RGB', async () => {
    const transparent = await solid(8, 8, 4, { r: 0, g: 0, b: 0, alpha: 0 }).png().toBuffer();
    const t = await decodeForNetwork(transparent, 1024, LIMIT);
    expect(t.data.length).toBe(8 * 8 * 3);
    expect(t.data[0]).toBe(255);
    const gray = await solid(8, 8, 3, '#808080').toColourspace('b-w').png().toBuffer();
    const g = await decodeForNetwork(gray, 1024, LIMIT);
    expect(g.data.length).toBe(8 * 8 * 3);
    expect(Math.abs(g.data[0]! - 128)).toBeLessThan(3);
    const cmyk = await solid(8, 8, 3, '#3060c0').jpeg().toColourspace('cmyk').toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const c = await decodeForNetwork(cmyk, 1024, LIMIT);
    expect(c.data.length).toBe(8 * 8 * 3);
    expect(c.data[2]!).toBeGreaterThan(c.data[0]!); // still blue-ish
    const sixteen = await solid(8, 8, 3, '#ffffff').toColourspace('rgb16').png().toBuffer();
    expect((await sharp(sixteen).metadata()).depth).toBe('ushort');
    const s = await decodeForNetwork(sixteen, 1024, LIMIT);
    expect(Math.max(...s.data)).toBeLessThanOrEqual(255);
    expect(s.data[0]).toBeGreaterThan(250);
  });

  it('rejects non-images (415), corrupt images (422) and pixel bombs (413)', async () => {
    expect(await statusOf(probeImage(Buffer.from('hello, not an image'), LIMIT))).toBe(415);
    const jpeg = await solid(64, 64, 3, '#123456').jpeg().toBuffer();
    expect(await statusOf(decodeForNetwork(jpeg.subarray(0, 200), 1024, LIMIT))).toBe(422);
    const big = await solid(300, 300, 3, '#000').png().toBuffer();
    expect(await statusOf(probeImage(big, 300 * 300 - 1))).toBe(413);
  });

  it('encodes all output formats', async () => {
    const px = new Float32Array(16 * 8 * 3).fill(200);
    for (const f of ['png', 'jpeg', 'webp'] as const) {
      const meta = await sharp(await encodeImage(px, 16, 8, f)).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual([f, 16, 8]);
    }
  });
});
