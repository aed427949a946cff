/**
 * What each service's image carries, from the lockfile alone (what `pnpm deploy --prod` installs):
 * a service's production dependencies, its workspace packages' production dependencies, and
 * theirs, transitively. The gateway releases and routes but runs no network, so it carries
 * neither onnxruntime nor TF.js; inference runs networks but does not train, so no TF.js.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { rel } from './tools.ts';

interface Deps {
  dependencies?: Record<string, { version: string } | string>;
  optionalDependencies?: Record<string, { version: string } | string>;
}
interface Lockfile {
  importers: Record<string, Deps>;
  snapshots: Record<string, Deps>;
}
// pnpm writes the lockfile of its own installation as a first document; the workspace's follows.
const lock = parseAllDocuments(readFileSync(rel('pnpm-lock.yaml'), 'utf8'))
  .map((d) => d.toJS() as Lockfile)
  .find((d) => d.importers['services/gateway'])!;

/** Package names in the production closure of a workspace folder (e.g. services/gateway). */
function productionClosure(importer: string): Set<string> {
  const names = new Set<string>();
  const seen = new Set<string>();
  const visit = (deps: Deps, from: string) => {
    for (const [name, spec] of Object.entries({ ...deps.dependencies, ...deps.optionalDependencies })) {
      const version = typeof spec === 'string' ? spec : spec.version;
      names.add(name);
      const key = version.startsWith('link:') ? `importer:${rel(from, version.slice('link:'.length)).slice(rel().length)}` : `${name}@${version}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (key.startsWith('importer:')) visit(lock.importers[key.slice('importer:'.length)]!, key.slice('importer:'.length));
      else visit(lock.snapshots[key] ?? {}, from);
    }
  };
  visit(lock.importers[importer]!, importer);
  return names;
}

const runtimes = (names: Set<string>) => [...names].filter((n) => /^onnxruntime-|^@tensorflow\//.test(n)).sort();

describe('deployment units', () => {
  it('the gateway carries neither onnxruntime nor TF.js, nor does the shared library', () => {
    const gateway = productionClosure('services/gateway');
    expect(gateway.has('@nst/common')).toBe(true);
    expect(gateway.has('sharp')).toBe(true);
    expect(runtimes(gateway)).toEqual([]);
    expect(gateway.has('@nst/network')).toBe(false);
    expect(runtimes(productionClosure('services/common'))).toEqual([]);
  });

  it('inference carries onnxruntime and the network definitions but no TF.js', () => {
    const inference = productionClosure('services/inference');
    expect(inference.has('@nst/network')).toBe(true);
    expect(inference.has('onnxruntime-node')).toBe(true);
    expect(runtimes(inference).filter((n) => n.startsWith('@tensorflow/'))).toEqual([]);
    expect(runtimes(productionClosure('services/network'))).toEqual([]);
  });

  it('fine-tuning carries TF.js and onnxruntime', () => {
    const finetune = productionClosure('services/finetune');
    expect(finetune.has('@tensorflow/tfjs')).toBe(true);
    expect(finetune.has('onnxruntime-node')).toBe(true);
  });
});
