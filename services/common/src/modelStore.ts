/**
 * The model store on the shared volume:
 *   models/<model>/<model>_v<N>.onnx   immutable artefact
 *   models/<model>/<model>_v<N>.json   model card, written last: a version exists once its card does
 *   models/<model>/latest.txt          the live version's name
 *   models/<model>/style.jpg           the painting
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { modelCardSchema, type ModelCard } from '@nst/contracts';
import { createFileExclusive, writeFileAtomic } from './atomicFile.ts';

export type { ModelCard } from '@nst/contracts';

export class ModelStoreError extends Error {}

export function versionName(model: string, n: number): string {
  return `${model}_v${n}`;
}

/** Version number of `<model>_v<N>`, or null for anything else. */
export function parseVersionName(model: string, name: string): number | null {
  const m = /^(.+)_v([1-9][0-9]{0,8})$/.exec(name.trim());
  return m && m[1] === model ? Number(m[2]) : null;
}

export class ModelStore {
  readonly modelsDir: string;
  constructor(readonly root: string) {
    this.modelsDir = path.join(root, 'models');
  }

  modelDir(model: string): string {
    return path.join(this.modelsDir, model);
  }
  onnxPath(model: string, version: string): string {
    return path.join(this.modelDir(model), `${version}.onnx`);
  }
  cardPath(model: string, version: string): string {
    return path.join(this.modelDir(model), `${version}.json`);
  }
  latestPath(model: string): string {
    return path.join(this.modelDir(model), 'latest.txt');
  }
  styleImagePath(model: string): string {
    return path.join(this.modelDir(model), 'style.jpg');
  }

  /** Complete versions (artefact and card present), ascending. Stray files are ignored. */
  async versions(model: string): Promise<number[]> {
    const files = await readdir(this.modelDir(model)).catch(() => [] as string[]);
    const names = new Set(files);
    const found: number[] = [];
    for (const f of files) {
      if (!f.endsWith('.json')) continue;
      const base = f.slice(0, -'.json'.length);
      const n = parseVersionName(model, base);
      if (n !== null && names.has(`${base}.onnx`)) found.push(n);
    }
    return found.sort((a, b) => a - b);
  }

  /** Highest number any file claims, complete or not, so a new version never reuses one. */
  async highestVersionNumber(model: string): Promise<number> {
    const files = await readdir(this.modelDir(model)).catch(() => [] as string[]);
    let max = 0;
    for (const f of files) {
      const n = parseVersionName(model, f.replace(/\.(onnx|json)$/, ''));
      if (n !== null) max = Math.max(max, n);
    }
    return max;
  }

  async hasVersion(model: string, version: string): Promise<boolean> {
    const n = parseVersionName(model, version);
    return n !== null && (await this.versions(model)).includes(n);
  }

  /** The live version's name, or null when latest.txt is missing or names no complete version. */
  async latest(model: string): Promise<string | null> {
    const text = await readFile(this.latestPath(model), 'utf8').catch(() => null);
    if (text === null) return null;
    const name = text.trim();
    return (await this.hasVersion(model, name)) ? name : null;
  }

  /** latest.txt's modification time in ms (0 when absent): a cheap change detector. */
  async latestMtime(model: string): Promise<number> {
    return stat(this.latestPath(model)).then(
      (s) => s.mtimeMs,
      () => 0,
    );
  }

  /** Moves latest.txt. Called only by the release owner (release.ts), under its lock. */
  async setLatest(model: string, version: string): Promise<void> {
    if (!(await this.hasVersion(model, version))) throw new ModelStoreError(`${model} has no complete version ${version}`);
    await writeFileAtomic(this.latestPath(model), `${version}\n`);
  }

  async card(model: string, version: string): Promise<ModelCard> {
    const text = await readFile(this.cardPath(model, version), 'utf8').catch(() => null);
    if (text === null) throw new ModelStoreError(`${model} has no version ${version}`);
    return modelCardSchema.parse(JSON.parse(text));
  }

  /**
   * Publishes a new version numbered one above every existing one: the artefact appears
   * whole under a name nobody else holds, then its card makes it visible. Never overwrites.
   */
  async addVersion(model: string, onnx: Uint8Array, makeCard: (version: string, n: number) => ModelCard): Promise<ModelCard> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const n = (await this.highestVersionNumber(model)) + 1;
      const version = versionName(model, n);
      if (!(await createFileExclusive(this.onnxPath(model, version), onnx))) continue;
      const card = modelCardSchema.parse(makeCard(version, n));
      if (!(await createFileExclusive(this.cardPath(model, version), `${JSON.stringify(card, null, 2)}\n`))) {
        throw new ModelStoreError(`card ${this.cardPath(model, version)} appeared while publishing`);
      }
      return card;
    }
    throw new ModelStoreError(`could not allocate a version number for ${model}`);
  }
}
