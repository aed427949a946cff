/**
 * Deletes stored images older than the retention (NST_IMAGE_RETENTION_DAYS; 0 keeps all),
 * except those something still refers to: a rating (fine-tuning trains on rated uploads) or a
 * training job's record in the platform store (files or PostgreSQL), a model card or routing
 * history, or a training Job's progress file. A result
 * goes with its record; an upload whose result is kept is kept too. Temporary files of
 * uploads cut off by a crash go after a day.
 *
 * Run it as a job (`tsx src/retentionJob.ts` from services/gateway: the cluster's CronJob),
 * or let the gateway run it daily (NST_IMAGE_RETENTION_SCHEDULE, the local stack).
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyBaseLogger } from 'fastify';
import { z } from 'zod';
import { createLogger, openPlatformStore, parseConfig, sharedEnv, type JobRecord, type PlatformStore } from '@nst/common';

export const retentionEnv = {
  /** Stored images older than this many days are deleted (those still referred to are kept); 0 keeps all. */
  NST_IMAGE_RETENTION_DAYS: z.coerce.number().min(0).default(30),
};

const IMAGE_NAME = /\b(?:in|out)_[0-9a-f-]{36}\.[a-z]+\b/g;
const DAY_MS = 24 * 3600 * 1000;

type Log = Pick<FastifyBaseLogger, 'info' | 'error'>;

async function textsUnder(dir: string, ext: RegExp): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  const files = entries.filter((e) => e.isFile() && ext.test(e.name)).map((e) => path.join(e.parentPath, e.name));
  return Promise.all(files.map((f) => readFile(f, 'utf8').catch(() => '')));
}

/** Every image name the platform's records mention. */
async function referencedNames(storageDir: string, platform: PlatformStore): Promise<Set<string>> {
  const names = new Set<string>();
  for await (const f of platform.feedback()) for (const n of [f.content_image_filename, f.output_image_filename]) names.add(n);
  const jobs = await platform.jobRecords((v) => v as JobRecord).list();
  const texts = [
    JSON.stringify(jobs),
    ...(await textsUnder(path.join(storageDir, 'models'), /\.jsonl?$/)),
    ...(await textsUnder(path.join(storageDir, 'training-jobs'), /\.jsonl?$/)),
  ];
  for (const t of texts) for (const m of t.matchAll(IMAGE_NAME)) names.add(m[0]);
  return names;
}

export interface RetentionResult {
  deleted: number;
  kept: number;
  referenced: number;
}

export async function runRetention(storageDir: string, days: number, platform: PlatformStore, now = Date.now()): Promise<RetentionResult> {
  const result: RetentionResult = { deleted: 0, kept: 0, referenced: 0 };
  if (days <= 0) return result;
  const cutoff = now - days * DAY_MS;
  const keep = await referencedNames(storageDir, platform);
  const outputDir = path.join(storageDir, 'output_images');
  const inputDir = path.join(storageDir, 'input_images');
  const considered = async (dir: string, f: string, extra: string[] = []) => {
    const file = path.join(dir, f);
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) return false;
    if (keep.has(f)) {
      result.referenced++;
      return false;
    }
    if (info.mtimeMs >= cutoff) {
      result.kept++;
      return false;
    }
    await Promise.all([file, ...extra].map((p) => rm(p, { force: true })));
    result.deleted++;
    return true;
  };
  for (const f of await readdir(outputDir).catch(() => [] as string[])) {
    if (!/^out_[0-9a-f-]{36}\.(png|jpeg|webp)$/.test(f)) continue;
    const record = path.join(outputDir, `${f.replace(/\.[a-z]+$/, '')}.json`);
    // A kept result keeps its upload (its record names it).
    if (keep.has(f)) {
      const text = await readFile(record, 'utf8').catch(() => '');
      for (const m of text.matchAll(IMAGE_NAME)) keep.add(m[0]);
    }
    await considered(outputDir, f, [record]);
  }
  for (const f of await readdir(inputDir).catch(() => [] as string[])) {
    if (/^in_[0-9a-f-]{36}\./.test(f)) await considered(inputDir, f);
    // An upload cut off by a crash leaves its temporary file behind.
    else if (/^\.upload-[0-9a-f-]{36}\.part$/.test(f)) {
      const info = await stat(path.join(inputDir, f)).catch(() => null);
      if (info && info.mtimeMs < now - DAY_MS) await rm(path.join(inputDir, f), { force: true });
    }
  }
  return result;
}

/** Runs the job now and then every day; returns a function that stops the schedule. */
export function scheduleRetention(storageDir: string, days: number, platform: PlatformStore, log: Log, everyMs = DAY_MS): () => void {
  const once = () =>
    runRetention(storageDir, days, platform).then(
      (r) => log.info({ nst: { event: 'image_retention', days, ...r } }, `image retention: ${r.deleted} deleted, ${r.referenced} kept for feedback or training, ${r.kept} younger than ${days} days`),
      (err: Error) => log.error({ err }, 'image retention failed'),
    );
  const first = setTimeout(() => void once(), 10_000);
  const timer = setInterval(() => void once(), everyMs);
  first.unref();
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const config = parseConfig(z.object({ ...sharedEnv, ...retentionEnv }));
  const log = createLogger('retention-job');
  try {
    const platform = await openPlatformStore({ storageDir: config.NST_STORAGE_DIR, databaseUrl: config.NST_DATABASE_URL });
    const r = await runRetention(config.NST_STORAGE_DIR, config.NST_IMAGE_RETENTION_DAYS, platform).finally(() => platform.close());
    log.info({ nst: { event: 'image_retention', days: config.NST_IMAGE_RETENTION_DAYS, ...r } }, `image retention: ${r.deleted} deleted, ${r.referenced} kept for feedback or training, ${r.kept} younger`);
  } catch (err) {
    log.error({ err }, (err as Error).message);
    process.exit(1);
  }
}
