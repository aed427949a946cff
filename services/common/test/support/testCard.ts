/** A model card for tests' store versions: a wave-style version with no parent. */
import { createHash } from 'node:crypto';
import type { ModelCard } from '@nst/contracts';

/**
 * The card maker `ModelStore.addVersion` takes. Given the artefact's bytes, the card records
 * their size and sha256, so the version passes verification; without them it holds
 * placeholders, for tests that never verify.
 */
export const testCard =
  (model: string, bytes?: Uint8Array, over: Partial<ModelCard> = {}) =>
  (version: string, n: number): ModelCard => ({
    model,
    version,
    version_number: n,
    parent: null,
    style: 'wave',
    licence: 'test',
    created_at: new Date().toISOString(),
    source: { kind: 'test' },
    artefact: bytes ? { file: `${version}.onnx`, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.byteLength } : { file: `${version}.onnx`, sha256: 'x', bytes: 1 },
    metrics: {},
    ...over,
  });
