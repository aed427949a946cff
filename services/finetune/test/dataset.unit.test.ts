import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curatedUploads, datasetHash, decodeAll, decodeSquare } from '../src/ml/dataset.ts';

let dir: string;

async function png(file: string, colour: string, channels: 1 | 3 | 4 = 3): Promise<void> {
  const img = sharp({ create: { width: 40, height: 30, channels: channels === 1 ? 3 : channels, background: colour } });
  await (channels === 1 ? img.grayscale() : img).png().toFile(file);
}

describe('curated uploads from the rated feedback', () => {
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'nst-curation-'));
    const uploads = path.join(dir, 'input_images');
    await mkdir(uploads, { recursive: true });
    await png(path.join(uploads, 'a.png'), '#ff0000');
    await copyFile(path.join(uploads, 'a.png'), path.join(uploads, 'a-copy.png')); // same bytes, other name
    await png(path.join(uploads, 'b.png'), '#00ff00', 1); // grayscale
    await png(path.join(uploads, 'c.png'), '#0000ff80', 4); // with alpha
    await png(path.join(uploads, 'good.png'), '#ffffff');
    await writeFile(path.join(uploads, 'broken.jpg'), 'not an image at all');
    const line = (o: object) => JSON.stringify({ timestamp: '2026-01-01T00:00:00Z', version: 'model1_v1', output_image_filename: 'o.png', ...o });
    await writeFile(
      path.join(dir, 'feedback.jsonl'),
      [
        line({ feedback: 'bad', model: 'model1', content_image_filename: 'a.png', comment: 'too dark' }),
        line({ feedback: 'bad', model: 'model1', content_image_filename: 'a-copy.png' }),
        line({ feedback: 'bad', model: 'model1', content_image_filename: 'a.png' }),
        line({ feedback: 'bad', model: 'model1', content_image_filename: 'b.png' }),
        line({ feedback: 'bad', model: 'model1', content_image_filename: 'c.png' }),
        line({ feedback: 'bad', model: 'model1', content_image_filename: 'broken.jpg' }),
        line({ feedback: 'bad', model: 'model1', content_image_filename: 'gone.png' }),
        line({ feedback: 'bad', model: 'model1', content_image_filename: '../admin_token' }),
        line({ feedback: 'good', model: 'model1', content_image_filename: 'good.png' }),
        line({ feedback: 'bad', model: 'model2', content_image_filename: 'good.png' }),
        '{"feedback": "bad", "model": "model1"',
        'not json',
        '',
      ].join('\n'),
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('takes the uploads rated bad for the model, once per content', async () => {
    const set = await curatedUploads(dir, 'model1');
    expect(set.files.map((f) => path.basename(f.path))).toEqual(['a.png', 'b.png', 'c.png', 'broken.jpg']);
    expect(set.duplicates).toBe(2); // a-copy.png (same bytes) and a.png again
    expect(set.missing).toBe(1);
    expect(set.malformed).toBe(1); // a path outside input_images (the store skips the torn line and the non-JSON one)
    expect((await curatedUploads(dir, 'model2')).files.map((f) => path.basename(f.path))).toEqual(['good.png']);
    expect((await curatedUploads(dir, 'model3')).files).toEqual([]);
  });

  it('converts every image to RGB squares and skips the undecodable ones, counting them', async () => {
    const set = await curatedUploads(dir, 'model1');
    const { photos, used, skipped } = await decodeAll(set.files, 16);
    expect(skipped).toBe(1);
    expect(used.map((f) => path.basename(f.path))).toEqual(['a.png', 'b.png', 'c.png']);
    for (const p of photos) expect(p.length).toBe(16 * 16 * 3);
    const red = await decodeSquare(path.join(dir, 'input_images/a.png'), 8);
    expect([red[0], red[1], red[2]]).toEqual([255, 0, 0]);
    const grey = photos[1]!;
    expect(grey[0]).toBe(grey[1]);
  });

  it('hashes a dataset independently of order', async () => {
    const set = await curatedUploads(dir, 'model1');
    expect(datasetHash(set.files)).toBe(datasetHash([...set.files].reverse()));
    expect(datasetHash(set.files)).not.toBe(datasetHash(set.files.slice(1)));
  });
});
