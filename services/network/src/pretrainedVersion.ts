/** Stores an imported pretrained network as a model's version, with its card, and makes it live on first import. */
import { createHash } from 'node:crypto';
import { STYLES, releaseOwnerFor, type DataSource, type ModelCard, type ModelSpec, type ModelStore } from '@nst/common';

export async function addPretrainedVersion(store: ModelStore, spec: ModelSpec, onnx: Uint8Array, sources: DataSource[], source: Record<string, unknown> = {}): Promise<ModelCard> {
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
    source: { kind: 'pretrained', ...source, repo: sources[0]!.repo, commit: sources[0]!.commit, files: sources.map((s) => ({ path: s.path, sha256: s.sha256 })) },
    artefact: { file: `${version}.onnx`, sha256: createHash('sha256').update(onnx).digest('hex'), bytes: onnx.byteLength },
    metrics: {},
  }));
  await (await releaseOwnerFor(store)).initialRelease(spec.name, card.version);
  return card;
}
