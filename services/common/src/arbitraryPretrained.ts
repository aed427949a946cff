/** Builds v1 of the arbitrary-style model (MicroAST) from its pinned upstream weights. */
import { createHash } from 'node:crypto';
import { dataFolder, sourcesUnder, type DataLocation } from './dataSources.ts';
import { MICROAST_PREFIX } from './network/microAst.ts';
import { loadMicroAstWeights } from './network/microAstCheckpoint.ts';
import { exportMicroAstOnnx } from './network/microAstOnnx.ts';
import { ModelStore, type ModelCard } from './modelStore.ts';
import { releaseOwnerFor } from './release.ts';
import { STYLES, type ModelSpec } from './styles.ts';

export async function pullArbitrary(store: ModelStore, spec: ModelSpec, loc: DataLocation): Promise<{ model: string; version: string; created: boolean }> {
  const existing = await store.versions(spec.name);
  if (existing.length > 0) {
    if (!(await store.latest(spec.name))) await (await releaseOwnerFor(store)).initialRelease(spec.name, `${spec.name}_v${existing[existing.length - 1]}`);
    return { model: spec.name, version: (await store.latest(spec.name))!, created: false };
  }
  const root = await dataFolder(MICROAST_PREFIX, loc);
  const onnx = exportMicroAstOnnx(await loadMicroAstWeights(root), 'full', { model: spec.name, style: spec.style, source: 'pretrained' });
  const sources = sourcesUnder(MICROAST_PREFIX).filter((s) => s.path.endsWith('.pth.tar'));
  const info = STYLES[spec.style]!;
  const card = await store.addVersion(spec.name, onnx, (version, n): ModelCard => ({
    model: spec.name,
    version,
    version_number: n,
    parent: null,
    style: spec.style,
    title: info.title,
    artist: info.artist,
    licence: sources[0]!.license,
    created_at: new Date().toISOString(),
    source: { kind: 'pretrained', network: 'microast', repo: sources[0]!.repo, commit: sources[0]!.commit, files: sources.map((s) => ({ path: s.path, sha256: s.sha256 })) },
    artefact: { file: `${version}.onnx`, sha256: createHash('sha256').update(onnx).digest('hex'), bytes: onnx.byteLength },
    metrics: {},
  }));
  await (await releaseOwnerFor(store)).initialRelease(spec.name, card.version);
  return { model: spec.name, version: card.version, created: true };
}
