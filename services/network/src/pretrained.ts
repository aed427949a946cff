/** Builds v1 of a model from its pretrained checkpoint in the pinned data sources. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  dataFolder,
  exists,
  modelKind,
  releaseOwnerFor,
  sourcesUnder,
  writeFileAtomic,
  type DataLocation,
  type DataProgress,
  type Logger,
  type ModelSpec,
  type ModelStore,
} from '@nst/common';
import { loadCheckpoint } from './checkpoint.ts';
import { exportOnnx } from './onnxFormat.ts';
import { addPretrainedVersion } from './pretrainedVersion.ts';
import { pullArbitrary } from './arbitraryPretrained.ts';

const checkpointPrefix = (style: string) => `models/fast-style/${style}/`;

export interface PullResult {
  model: string;
  version: string;
  created: boolean;
}

/** Imports the pretrained network as the model's first version, unless it has one already. */
export async function pullPretrained(store: ModelStore, spec: ModelSpec, loc: DataLocation): Promise<PullResult> {
  if (modelKind(spec) === 'arbitrary') return pullArbitrary(store, spec, loc);
  const existing = await store.versions(spec.name);
  const styleImage = store.styleImagePath(spec.name);
  const hasStyleImage = await exists(styleImage);
  // A model already imported needs no data: restarts work offline and verify nothing again.
  if (existing.length > 0 && hasStyleImage) {
    const latest = await store.latest(spec.name);
    if (!latest) await (await releaseOwnerFor(store)).initialRelease(spec.name, `${spec.name}_v${existing[existing.length - 1]}`);
    return { model: spec.name, version: (await store.latest(spec.name))!, created: false };
  }
  const prefix = checkpointPrefix(spec.style);
  const folder = path.join(await dataFolder(prefix, loc), prefix);
  if (!hasStyleImage) await writeFileAtomic(styleImage, await readFile(path.join(folder, 'style.jpg')));
  if (existing.length > 0) return pullPretrained(store, spec, loc);

  const weights = await loadCheckpoint(folder);
  const sources = sourcesUnder(prefix);
  const onnx = exportOnnx(weights, { model: spec.name, style: spec.style, source: 'pretrained' });
  const card = await addPretrainedVersion(store, spec, onnx, sources);
  return { model: spec.name, version: card.version, created: true };
}

/** Imports every model that has no version yet; returns what each now serves. */
export async function pullAllPretrained(store: ModelStore, specs: ModelSpec[], loc: DataLocation): Promise<PullResult[]> {
  const results: PullResult[] = [];
  for (const spec of specs) results.push(await pullPretrained(store, spec, loc));
  return results;
}

const mb = (n: number) => (n / 1e6).toFixed(1);

/**
 * A DataLocation progress callback that logs downloads as someone waiting on a first start
 * wants them: about once a second and when a folder is complete; files found verified in the
 * cache count but say nothing.
 */
export function logDownloadProgress(log: Logger, everyMs = 1000): (p: DataProgress) => void {
  let last = 0;
  let downloading = false;
  return (p) => {
    downloading ||= p.downloaded;
    const done = p.filesDone === p.filesTotal;
    if (!downloading || (!done && Date.now() - last < everyMs)) return;
    last = Date.now();
    const folder = p.file.split('/').slice(0, -1).join('/');
    log.info(
      { data: { folder, files_done: p.filesDone, files_total: p.filesTotal, bytes_done: p.bytesDone, bytes_total: p.bytesTotal } },
      `downloading ${folder}/: ${p.filesDone}/${p.filesTotal} files, ${mb(p.bytesDone)}/${mb(p.bytesTotal)} MB${done ? ' (done)' : ''}`,
    );
    if (done) downloading = false;
  };
}
