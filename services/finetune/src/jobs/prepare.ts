/**
 * Checks a fine-tuning request before a job exists, so every problem is a 4xx with its
 * reason: unknown model or version, style image missing, VGG weights missing or corrupt,
 * base photos unavailable, too few usable images, too many steps.
 */
import { access } from 'node:fs/promises';
import { DataFileError, HttpError, ModelStore, modelKind, type DataLocation, type ModelSpec } from '@nst/common';
import { BASE_PREFIX, HELDOUT_PREFIX, curatedUploads, listedPhotos, looksDecodable, type CuratedSet, type ImageFile } from '../ml/dataset.ts';
import { VggWeightsError, vgg19Folder } from '../ml/vgg19.ts';
import type { FinetuneRequest } from '@nst/contracts';
import { stepsFor } from './request.ts';

const MAX_STEPS = 100_000;

export interface PreparedJob {
  request: FinetuneRequest;
  spec: ModelSpec;
  parentVersion: string;
  /** Training images that passed the header check, curated first. */
  files: ImageFile[];
  heldOut: ImageFile[];
  curated: Omit<CuratedSet, 'files'> & { used: number; offered: number };
  baseCount: number;
  /** Files whose header is not an image. */
  undecodable: number;
  steps: number;
}

export interface PrepareContext {
  store: ModelStore;
  models: ModelSpec[];
  storageDir: string;
  loc: DataLocation;
}

async function dataOr422<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof DataFileError) throw new HttpError(422, `${what} missing or corrupt: ${err.message}`);
    throw err;
  }
}

export async function prepareJob(request: FinetuneRequest, ctx: PrepareContext): Promise<PreparedJob> {
  const spec = ctx.models.find((m) => m.name === request.model);
  if (!spec) throw new HttpError(404, `unknown model ${request.model} (known: ${ctx.models.map((m) => m.name).join(', ')})`);
  // An arbitrary-style model takes its painting with each request: there is no style to train towards.
  if (modelKind(spec) === 'arbitrary') throw new HttpError(400, `${spec.name} is an arbitrary-style model (any painting, no training); fine-tune a fast-style model`);
  const parentVersion = request.version ?? (await ctx.store.latest(spec.name));
  if (!parentVersion) throw new HttpError(404, `${spec.name} has no live version to start from`);
  if (!(await ctx.store.hasVersion(spec.name, parentVersion))) throw new HttpError(404, `${spec.name} has no version ${parentVersion}`);

  const styleImage = ctx.store.styleImagePath(spec.name);
  const styleOk = await access(styleImage).then(
    () => looksDecodable(styleImage),
    () => false,
  );
  if (!styleOk) throw new HttpError(422, `style image missing or unreadable for ${spec.name} (${styleImage})`);

  try {
    await vgg19Folder(ctx.loc);
  } catch (err) {
    if (err instanceof VggWeightsError) throw new HttpError(422, err.message);
    throw err;
  }

  const curatedSet: CuratedSet =
    request.data === 'base' ? { files: [], malformed: 0, missing: 0, duplicates: 0 } : await curatedUploads(ctx.storageDir, spec.name);
  const base = request.data === 'feedback' ? [] : await dataOr422('base photos', () => listedPhotos(BASE_PREFIX, ctx.loc, 'base', request.max_images));
  const heldOut = await dataOr422('held-out photos', () => listedPhotos(HELDOUT_PREFIX, ctx.loc, 'heldout', request.heldout_images));

  const files: ImageFile[] = [];
  let undecodable = 0;
  for (const f of [...curatedSet.files, ...base]) {
    if (await looksDecodable(f.path)) files.push(f);
    else undecodable++;
  }
  if (files.length < request.batch_size) {
    throw new HttpError(
      422,
      `too few usable images: ${files.length} usable (${curatedSet.files.length} curated uploads, ${base.length} base photos, ` +
        `${undecodable} undecodable, ${curatedSet.missing} missing uploads) for batch_size ${request.batch_size}`,
    );
  }
  const steps = stepsFor(request, files.length);
  if (steps > MAX_STEPS) throw new HttpError(400, `that is ${steps} steps; at most ${MAX_STEPS}`);
  const { files: curatedFiles, ...curatedStats } = curatedSet;
  return {
    request,
    spec,
    parentVersion,
    files,
    heldOut,
    curated: { ...curatedStats, used: files.filter((f) => f.origin === 'feedback').length, offered: curatedFiles.length },
    baseCount: base.length,
    undecodable,
    steps,
  };
}
