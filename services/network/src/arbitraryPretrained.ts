/** Builds v1 of the arbitrary-style model (MicroAST) from its pinned upstream weights. */
import { dataFolder, releaseOwnerFor, sourcesUnder, type DataLocation, type ModelSpec, type ModelStore } from '@nst/common';
import { MICROAST_PREFIX } from './microAst.ts';
import { loadMicroAstWeights } from './microAstCheckpoint.ts';
import { exportMicroAstOnnx } from './microAstOnnx.ts';
import { addPretrainedVersion } from './pretrainedVersion.ts';

export async function pullArbitrary(store: ModelStore, spec: ModelSpec, loc: DataLocation): Promise<{ model: string; version: string; created: boolean }> {
  const existing = await store.versions(spec.name);
  if (existing.length > 0) {
    if (!(await store.latest(spec.name))) await (await releaseOwnerFor(store)).initialRelease(spec.name, `${spec.name}_v${existing[existing.length - 1]}`);
    return { model: spec.name, version: (await store.latest(spec.name))!, created: false };
  }
  const root = await dataFolder(MICROAST_PREFIX, loc);
  const onnx = exportMicroAstOnnx(await loadMicroAstWeights(root), 'full', { model: spec.name, style: spec.style, source: 'pretrained' });
  const sources = sourcesUnder(MICROAST_PREFIX).filter((s) => s.path.endsWith('.pth.tar'));
  const card = await addPretrainedVersion(store, spec, onnx, sources, { network: 'microast' });
  return { model: spec.name, version: card.version, created: true };
}
