/**
 * A rating that does not fit on the disk: the gateway answers 507 with a message, keeps no
 * partial line, and reports the store as not ready. The full disk is real: the gateway runs
 * in a child process that may write at most 3000 bytes to any file (RLIMIT_FSIZE).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { feedbackEntrySchema } from '@nst/common';

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('ratings on a full disk', () => {
  it('answers 507, writes no partial line, and /ready says the store cannot be written', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'nst-full-'));
    dirs.push(dir);
    const helper = fileURLToPath(new URL('./support/feedbackUnderLimit.ts', import.meta.url));
    const { stdout } = await promisify(execFile)('prlimit', ['--fsize=3000', process.execPath, '--import', 'tsx', helper, dir], { cwd: fileURLToPath(new URL('../../..', import.meta.url)) });
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as { answers: { status: number; message?: string }[]; ready: { status: number; body: { store: { ok: boolean; detail?: string } } } };
    const statuses = report.answers.map((a) => a.status);
    const accepted = statuses.filter((s) => s === 201).length;
    expect(accepted).toBeGreaterThan(3);
    // Accepted until the disk is full, refused from then on; nothing in between.
    expect(statuses).toEqual([...Array(accepted).fill(201), ...Array(statuses.length - accepted).fill(507)]);
    expect(report.answers[accepted]!.message).toMatch(/feedback\.jsonl.*nothing was recorded/);
    expect(report.ready.status).toBe(503);
    expect(report.ready.body.store).toMatchObject({ ok: false, detail: expect.stringMatching(/feedback\.jsonl/) });
    const text = await readFile(path.join(dir, 'feedback.jsonl'), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(accepted);
    for (const l of lines) feedbackEntrySchema.parse(JSON.parse(l));
  });
});
