/**
 * Style images uploaded for the arbitrary-style model, on the shared volume:
 *   styles/<id>.<format>   the image as uploaded
 *   styles/<id>.json       its record, written last: a style exists once its record does
 * Ids are made here (never taken from the client); the gateway writes, inference services read.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { STYLE_ID, styleRecordSchema, type StyleRecord } from '@nst/contracts';
import { writeFileAtomic } from './atomicFile.ts';

export type { StyleRecord } from '@nst/contracts';

export class StyleImages {
  readonly dir: string;
  constructor(storageDir: string) {
    this.dir = path.join(storageDir, 'styles');
  }

  /** The image first, then its record. */
  async add(bytes: Uint8Array, info: { format: string; width: number; height: number; title?: string }): Promise<StyleRecord> {
    const id = `st_${randomUUID().replaceAll('-', '')}`;
    const file = `${id}.${info.format}`;
    await writeFileAtomic(path.join(this.dir, file), bytes);
    const record: StyleRecord = {
      id,
      title: info.title?.trim() || 'Untitled painting',
      file,
      format: info.format,
      width: info.width,
      height: info.height,
      bytes: bytes.byteLength,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      created_at: new Date().toISOString(),
    };
    await writeFileAtomic(path.join(this.dir, `${id}.json`), JSON.stringify(record));
    return record;
  }

  async get(id: string): Promise<StyleRecord | null> {
    if (!STYLE_ID.test(id)) return null;
    const text = await readFile(path.join(this.dir, `${id}.json`), 'utf8').catch(() => null);
    return text === null ? null : styleRecordSchema.parse(JSON.parse(text));
  }

  imagePath(record: StyleRecord): string {
    return path.join(this.dir, path.basename(record.file));
  }

  async read(id: string): Promise<{ record: StyleRecord; bytes: Buffer } | null> {
    const record = await this.get(id);
    if (!record) return null;
    const bytes = await readFile(this.imagePath(record)).catch(() => null);
    return bytes ? { record, bytes } : null;
  }

  /** Newest first. */
  async list(limit = 200): Promise<StyleRecord[]> {
    const files = (await readdir(this.dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json') && STYLE_ID.test(f.slice(0, -5)));
    const records = await Promise.all(files.map((f) => this.get(f.slice(0, -5)).catch(() => null)));
    return records
      .filter((r): r is StyleRecord => r !== null)
      .sort((a, b) => b.created_at.localeCompare(a.created_at))
      .slice(0, limit);
  }
}
