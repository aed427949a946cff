/**
 * Training data: the curated uploads (rated "bad" for the model, read through the platform
 * store, deduplicated by content), the base photos (images/content/train) and the held-out photos
 * (images/content/val, never trained on), decoded to square RGB crops.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { dataFile, sharedPlatformStore, sourcesUnder, type DataLocation, type FeedbackEntry } from '@nst/common';
import type { Pixels } from './trainingLoop.ts';

export const BASE_PREFIX = 'images/content/train/';
export const HELDOUT_PREFIX = 'images/content/val/';

export interface ImageFile {
  path: string;
  sha256: string;
  origin: 'feedback' | 'base' | 'heldout';
}

export interface CuratedSet {
  files: ImageFile[];
  /** Ratings naming something other than a bare upload file name. */
  malformed: number;
  /** Rated uploads whose file is gone. */
  missing: number;
  /** Uploads with the same bytes as one already taken. */
  duplicates: number;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * Uploads rated bad for this model, one per distinct content. The ratings come from the
 * platform store (NST_DATABASE_URL or feedback.jsonl), which skips lines that are no rating.
 */
export async function curatedUploads(storageDir: string, model: string, ratings?: AsyncIterable<FeedbackEntry>): Promise<CuratedSet> {
  const out: CuratedSet = { files: [], malformed: 0, missing: 0, duplicates: 0 };
  const seenNames = new Set<string>();
  const seenHashes = new Set<string>();
  for await (const record of ratings ?? (await sharedPlatformStore(storageDir)).feedback()) {
    if (record.feedback !== 'bad' || record.model !== model) continue;
    // Only a bare file name inside input_images counts; anything with a path is ignored.
    const name = path.basename(record.content_image_filename);
    if (name !== record.content_image_filename || name.startsWith('.')) {
      out.malformed++;
      continue;
    }
    if (seenNames.has(name)) {
      out.duplicates++;
      continue;
    }
    seenNames.add(name);
    const file = path.join(storageDir, 'input_images', name);
    const bytes = await readFile(file).catch(() => null);
    if (!bytes) {
      out.missing++;
      continue;
    }
    const digest = sha256(bytes);
    if (seenHashes.has(digest)) {
      out.duplicates++;
      continue;
    }
    seenHashes.add(digest);
    out.files.push({ path: file, sha256: digest, origin: 'feedback' });
  }
  return out;
}

/** Verified local copies of listed photos (first `limit` by name). */
export async function listedPhotos(prefix: string, loc: DataLocation, origin: ImageFile['origin'], limit?: number): Promise<ImageFile[]> {
  const sources = sourcesUnder(prefix).sort((a, b) => a.path.localeCompare(b.path)).slice(0, limit);
  const files: ImageFile[] = [];
  for (const s of sources) files.push({ path: await dataFile(s.path, loc), sha256: s.sha256, origin });
  return files;
}

/** Order-independent hash of a dataset's contents. */
export function datasetHash(files: ImageFile[]): string {
  return sha256(Buffer.from(files.map((f) => f.sha256).sort().join('\n')));
}

/** Header check only: can this file be an image at all? */
export async function looksDecodable(file: string): Promise<boolean> {
  try {
    const meta = await sharp(file).metadata();
    return Boolean(meta.width && meta.height);
  } catch {
    return false;
  }
}

/** Centre crop to a size×size RGB square (any colour space or alpha converted). */
export async function decodeSquare(file: string, size: number): Promise<Float32Array> {
  const { data } = await sharp(file, { failOn: 'error' })
    .rotate()
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .resize(size, size, { fit: 'cover', position: 'centre' })
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (data.length !== size * size * 3) throw new Error(`decoded ${data.length} bytes, expected ${size * size * 3}`);
  return Float32Array.from(data);
}

/** Decodes every file; undecodable ones are skipped and counted. */
export async function decodeAll(files: ImageFile[], size: number): Promise<{ photos: Float32Array[]; used: ImageFile[]; skipped: number }> {
  const photos: Float32Array[] = [];
  const used: ImageFile[] = [];
  let skipped = 0;
  for (const f of files) {
    try {
      photos.push(await decodeSquare(f.path, size));
      used.push(f);
    } catch {
      skipped++;
    }
  }
  return { photos, used, skipped };
}

/** The style painting, longest side `maxSide`, aspect kept. */
export async function decodeStyle(file: string, maxSide: number): Promise<Pixels> {
  const { data, info } = await sharp(file)
    .rotate()
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .resize(maxSide, maxSide, { fit: 'inside' })
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { data: Float32Array.from(data), width: info.width, height: info.height };
}
