import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LineAppender, createFileExclusive } from '../src/index.ts';

describe('atomic files', () => {
  it('appends concurrent lines whole, none lost or interleaved', async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'nst-lines-')), 'f.jsonl');
    const a = new LineAppender(file);
    const big = 'x'.repeat(5000);
    await Promise.all(Array.from({ length: 200 }, (_, i) => a.append(JSON.stringify({ i, big }))));
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(200);
    expect(new Set(lines.map((l) => (JSON.parse(l) as { i: number }).i)).size).toBe(200);
  });

  it('creates a file only once', async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'nst-excl-')), 'a.bin');
    expect(await createFileExclusive(file, 'first')).toBe(true);
    expect(await createFileExclusive(file, 'second')).toBe(false);
    expect(await readFile(file, 'utf8')).toBe('first');
  });
});
