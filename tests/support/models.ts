import { createHash } from 'node:crypto';
import path from 'node:path';
import { ModelStore, dataFolder, type ModelCard } from '@nst/common';
import { exportOnnx, loadCheckpoint } from '@nst/network';
import { dataMirror } from './stack.ts';

/** Publishes another pretrained style's weights as the model's next version. */
export async function publishVersionFromStyle(store: ModelStore, model: string, style: string): Promise<string> {
  const loc = { mirror: dataMirror(), cacheDir: path.join(store.root, 'data-cache') };
  const root = await dataFolder(`models/fast-style/${style}/`, loc);
  const onnx = exportOnnx(await loadCheckpoint(path.join(root, `models/fast-style/${style}`)));
  const card = await store.addVersion(model, onnx, (version, n): ModelCard => ({
    model,
    version,
    version_number: n,
    parent: `${model}_v1`,
    style,
    licence: 'test',
    created_at: new Date().toISOString(),
    source: { kind: 'test', style },
    artefact: { file: `${version}.onnx`, sha256: createHash('sha256').update(onnx).digest('hex'), bytes: onnx.byteLength },
    metrics: {},
  }));
  return card.version;
}

