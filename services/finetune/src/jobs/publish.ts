/**
 * Publishing a trained version: the artefact and its card go into the model store under
 * the next free version number (ModelStore.addVersion: atomic, never overwrites), then the
 * quality gate decides whether it goes live or into a canary, through the release owner, so
 * the change is serialised with every other and recorded in the history.
 */
import { createHash } from 'node:crypto';
import { ModelStore, releaseOwnerFor, type ModelCard, type ReleaseOwner } from '@nst/common';
import { exportOnnx, type StyleNetWeights } from '@nst/network';
import type { CardTraining, JobResult, LossParts, PublishMode } from '@nst/contracts';

export interface GateDecision {
  passed: boolean;
  reason: string;
}

/** The new version may go live only if its held-out weighted loss is not worse than its parent's. */
export function qualityGate(heldout: { parent: LossParts; trained: LossParts }): GateDecision {
  const { parent, trained } = heldout;
  const passed = trained.total <= parent.total;
  const change = parent.total > 0 ? ((trained.total - parent.total) / parent.total) * 100 : 0;
  const detail = `held-out weighted perceptual loss ${trained.total.toPrecision(6)} vs parent ${parent.total.toPrecision(6)} (${change >= 0 ? '+' : ''}${change.toFixed(2)}%)`;
  return { passed, reason: passed ? `quality gate passed: ${detail}` : `quality gate failed: ${detail}; the new version is worse than its parent` };
}

export interface PublishInput {
  store: ModelStore;
  model: string;
  parentVersion: string;
  weights: StyleNetWeights;
  heldout: { parent: LossParts; trained: LossParts };
  publish: PublishMode;
  /** Everything about the run that goes into the card's `training` section. */
  training: CardTraining;
  jobId: string;
  /** Where the release is made; by default on the process's platform store (NST_DATABASE_URL or files). */
  release?: ReleaseOwner;
}

export async function publishVersion(input: PublishInput): Promise<JobResult> {
  const { store, model, parentVersion } = input;
  const parentCard = await store.card(model, parentVersion);
  const gate = qualityGate(input.heldout);
  const onnx = exportOnnx(input.weights, { model, style: parentCard.style, source: 'finetune', parent: parentVersion, job: input.jobId });
  const card = await store.addVersion(model, onnx, (version, n): ModelCard => ({
    model,
    version,
    version_number: n,
    parent: parentVersion,
    style: parentCard.style,
    title: parentCard.title,
    artist: parentCard.artist,
    licence: parentCard.licence,
    created_at: new Date().toISOString(),
    source: { kind: 'finetune', job_id: input.jobId, parent: parentVersion },
    artefact: { file: `${version}.onnx`, sha256: createHash('sha256').update(onnx).digest('hex'), bytes: onnx.byteLength },
    metrics: {
      heldout_parent: input.heldout.parent,
      heldout_trained: input.heldout.trained,
      quality_gate: gate,
    },
    training: { ...input.training, publish: input.publish },
  }));

  const actor = `finetune job ${input.jobId}`;
  const release = async () => input.release ?? (await releaseOwnerFor(store));
  switch (input.publish.mode) {
    case 'latest':
      if (!gate.passed) return { version: card.version, published: false, reason: `latest.txt not moved: ${gate.reason}`, heldout: input.heldout };
      await (await release()).publish(model, card.version, actor, gate.reason);
      return { version: card.version, published: true, reason: `latest.txt moved to ${card.version}: ${gate.reason}`, heldout: input.heldout };
    case 'canary': {
      if (!gate.passed) return { version: card.version, published: false, reason: `no canary: ${gate.reason}`, heldout: input.heldout };
      await (await release()).canary(model, card.version, input.publish.percent, actor, gate.reason);
      return { version: card.version, published: true, reason: `canary: ${card.version} takes ${input.publish.percent}% of traffic: ${gate.reason}`, heldout: input.heldout };
    }
    case 'none':
      return { version: card.version, published: false, reason: `publish is "none": latest.txt not moved (${gate.reason})`, heldout: input.heldout };
  }
}
