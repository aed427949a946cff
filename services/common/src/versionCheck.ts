/**
 * Is a stored version fit to serve? Its artefact must have the size and sha256 its card
 * records, and onnxruntime must load it. The inference service checks before it switches
 * to a version; whoever makes a version live or a canary checks first and refuses one that
 * fails, so a corrupt or truncated artefact never takes traffic.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import type { ModelStore } from './modelStore.ts';

export class UnverifiableVersionError extends Error {
  constructor(
    readonly model: string,
    readonly version: string,
    readonly reason: string,
  ) {
    super(`${model} version ${version} cannot be served: ${reason}`);
  }
}

/** The artefact's bytes once they match the card's size and sha256; throws otherwise. */
export async function readVerifiedArtefact(store: ModelStore, model: string, version: string): Promise<Uint8Array> {
  const card = await store.card(model, version).catch((err: Error) => {
    throw new UnverifiableVersionError(model, version, `its model card cannot be read (${err.message})`);
  });
  const bytes = await readFile(store.onnxPath(model, version)).catch((err: Error) => {
    throw new UnverifiableVersionError(model, version, `its artefact cannot be read (${err.message})`);
  });
  if (bytes.byteLength !== card.artefact.bytes) {
    throw new UnverifiableVersionError(model, version, `the artefact has ${bytes.byteLength} bytes, its card says ${card.artefact.bytes}`);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== card.artefact.sha256.toLowerCase()) {
    throw new UnverifiableVersionError(model, version, `the artefact's sha256 ${sha256.slice(0, 12)}… differs from its card's ${card.artefact.sha256.slice(0, 12)}…`);
  }
  return bytes;
}

/** Verified bytes, then a trial load in onnxruntime (released at once). Throws UnverifiableVersionError. */
export async function verifyVersion(store: ModelStore, model: string, version: string): Promise<void> {
  const bytes = await readVerifiedArtefact(store, model, version);
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, graphOptimizationLevel: 'disabled' });
  } catch (err) {
    throw new UnverifiableVersionError(model, version, `onnxruntime cannot load it (${(err as Error).message})`);
  }
  await session.release().catch(() => undefined);
}
