/**
 * Is a stored version fit to serve? Its artefact must have the size and sha256 its card
 * records and be an ONNX model with the interface of its model kind. Whoever makes a version
 * live or a canary checks first and refuses one that fails; the inference service, before it
 * switches to a version, also loads it in onnxruntime. So a corrupt or truncated artefact
 * never takes traffic, and the processes that only release need no ONNX runtime.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ModelCard, ModelStore } from './modelStore.ts';
import { onnxInterfaceProblem } from './onnxInterface.ts';
import { modelKind } from './styles.ts';

export class UnverifiableVersionError extends Error {
  constructor(
    readonly model: string,
    readonly version: string,
    readonly reason: string,
  ) {
    super(`${model} version ${version} cannot be served: ${reason}`);
  }
}

async function readCardAndArtefact(store: ModelStore, model: string, version: string): Promise<{ card: ModelCard; bytes: Uint8Array }> {
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
  return { card, bytes };
}

/** The artefact's bytes once they match the card's size and sha256; throws otherwise. */
export async function readVerifiedArtefact(store: ModelStore, model: string, version: string): Promise<Uint8Array> {
  return (await readCardAndArtefact(store, model, version)).bytes;
}

/** Verified bytes that parse as a model of the card's kind. Throws UnverifiableVersionError. */
export async function verifyVersion(store: ModelStore, model: string, version: string): Promise<void> {
  const { card, bytes } = await readCardAndArtefact(store, model, version);
  const problem = onnxInterfaceProblem(bytes, modelKind(card));
  if (problem) throw new UnverifiableVersionError(model, version, problem);
}
