/**
 * The model list and what is rendered from it, in process: the list's schema, the rendered
 * regions, the settings the services read, and the local port plan.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { MODEL_LIST, modelsFileSchema, type ModelEntry } from '@nst/common';
import { RENDERED_FILES, ROOT, modelSettings, readModelList, renderArtefacts, replaceRegion } from '../../scripts/lib/deployRender.ts';
import { localInferencePorts } from '@nst/common/localPorts';

describe('the model list', () => {
  it('has a kind for every model and a known style for the fast-style ones', () => {
    expect(MODEL_LIST.length).toBeGreaterThan(0);
    expect(() => modelsFileSchema.parse({ models: [{ name: 'm', kind: 'fast-style', style: 'monet' }] })).toThrow();
    expect(() => modelsFileSchema.parse({ models: [{ name: 'm', kind: 'painting' }] })).toThrow();
    expect(() => modelsFileSchema.parse({ models: [{ name: 'm', kind: 'arbitrary', style: 'wave' }] })).toThrow();
    expect(() => modelsFileSchema.parse({ models: [{ name: 'Bad Name', kind: 'arbitrary' }] })).toThrow();
    expect(() => modelsFileSchema.parse({ models: [{ name: 'm', kind: 'arbitrary' }, { name: 'm', kind: 'fast-style', style: 'wave' }] })).toThrow(/twice/);
    expect(() => modelsFileSchema.parse({ models: [] })).toThrow();
  });
});

describe('rendering', () => {
  it('every rendered file in the repository is what the list renders to (else: pnpm deploy:render)', () => {
    expect(readModelList()).toEqual(MODEL_LIST);
    const rendered = renderArtefacts(MODEL_LIST);
    for (const f of RENDERED_FILES) expect(readFileSync(path.join(ROOT, f), 'utf8'), `${f} is stale: run pnpm deploy:render`).toBe(rendered[f]);
  });

  const list: ModelEntry[] = [
    { name: 'alpha', kind: 'fast-style', style: 'wreck' },
    { name: 'mine', kind: 'arbitrary' },
  ];

  it('replaces only what is between a region\'s markers, and names a missing region', () => {
    const text = 'a: 1\n  # >>> rendered: r\n  old: 1\n  # <<< rendered: r\nb: 2';
    expect(replaceRegion(text, 'r', ['  new: 2', '  more: 3'])).toBe('a: 1\n  # >>> rendered: r\n  new: 2\n  more: 3\n  # <<< rendered: r\nb: 2');
    expect(() => replaceRegion(text, 'other', [])).toThrow(/no rendered region "other"/);
  });

  it('renders a unit per model, whatever its kind, and the settings name every model', () => {
    const out = renderArtefacts(list);
    const objs = parseAllDocuments(out['k8s/base/inference-units.yaml']!).map((d) => d.toJS() as { kind: string; metadata: { name: string; labels: Record<string, string> } });
    expect(objs.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(
      ['alpha', 'mine'].flatMap((n) => [`Deployment/${n}`, `Service/${n}`, `HorizontalPodAutoscaler/${n}`, `PodDisruptionBudget/${n}`]),
    );
    expect(objs.find((o) => o.metadata.name === 'mine')!.metadata.labels['nst.io/model-kind']).toBe('arbitrary');
    expect(out['k8s/base/inference-units.yaml']).not.toContain('{{');
    expect(modelSettings(list, (n) => `http://${n}:8001`)).toEqual({ NST_MODELS: 'alpha=wreck,mine=arbitrary', NST_INFERENCE_URLS: 'alpha=http://alpha:8001,mine=http://mine:8001' });
    expect(out['docker-compose.yml']).toMatch(/^ {2}mine:\n {4}<<: \*inference-unit\n/m);
    expect(out['k8s/monitoring/prometheus/prometheus.yml']).toContain('- targets: ["mine:8001"]');
  });
});

describe('local ports', () => {
  it('step over the gateway and fine-tuning ports, for any number of models', () => {
    expect(localInferencePorts(6, { first: 8001, taken: [8080, 8005] })).toEqual([8001, 8002, 8003, 8004, 8006, 8007]);
    const many = localInferencePorts(200, { first: 8001, taken: [8080, 8005] });
    expect(new Set(many).size).toBe(200);
    expect(many).not.toContain(8080);
    expect(() => localInferencePorts(3, { first: 65534, taken: [] })).toThrow(/not enough ports/);
  });
});
