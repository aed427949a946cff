/**
 * Adding a model is a change to the model list and nothing else: a copy of the deployment files
 * gets two more styles (la_muse, wreck) in services/common/models.json, `pnpm deploy:render`
 * renders it, and every artefact — Kubernetes base and overlays, compose, the Prometheus
 * targets and Ansible's render — then has the new models, valid for the real tools.
 */
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { MODEL_LIST, modelsFileSchema, type ModelEntry } from '@nst/common';
import { loadGatewayConfig } from '../../services/gateway/src/config.ts';
import { RENDERED_FILES, MODELS_FILE } from '../../scripts/lib/deployRender.ts';
import { byKind, find, parseYamlStream, rel, run, runOk, validateK8s, type K8sObject } from './tools.ts';

const ADDED: ModelEntry[] = [
  { name: 'model5', kind: 'fast-style', style: 'la_muse' },
  { name: 'model6', kind: 'fast-style', style: 'wreck' },
];
const MODELS = [...MODEL_LIST, ...ADDED];
const NAMES = MODELS.map((m) => m.name);
const tsx = rel('node_modules/.bin/tsx');

type Deployment = K8sObject & { spec: { replicas?: number; template: { metadata: { labels: Record<string, string> }; spec: { containers: { env?: { name: string; value?: string }[] }[] } } } };

let dir: string;
const inCopy = (...p: string[]) => path.join(dir, ...p);

async function filesUnder(root: string, sub = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(root, sub), { withFileTypes: true })) {
    const p = path.join(sub, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(root, p)));
    else out.push(p);
  }
  return out;
}

async function kustomizeCopy(target: string): Promise<K8sObject[]> {
  const r = await runOk('kubectl', ['kustomize', inCopy(target)]);
  return parseYamlStream(r.stdout);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'nst-six-models-'));
  await cp(rel('k8s'), inCopy('k8s'), { recursive: true });
  await cp(rel('docker-compose.yml'), inCopy('docker-compose.yml'));
  await cp(rel(MODELS_FILE), inCopy(MODELS_FILE), { recursive: true });
  const list = modelsFileSchema.parse(JSON.parse(await readFile(inCopy(MODELS_FILE), 'utf8')));
  await writeFile(inCopy(MODELS_FILE), JSON.stringify({ models: [...list.models, ...ADDED] }, null, 2) + '\n');
  const r = await runOk(tsx, [rel('scripts/deploy-render.ts'), '--root', dir, '--models', inCopy(MODELS_FILE)]);
  expect(r.stdout).toMatch(/rendered 7 models/);
}, 60_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a list with two more models renders every artefact', () => {
  it('changes only the list and the rendered files', async () => {
    const changed: string[] = [];
    for (const f of await filesUnder(dir)) {
      if ((await readFile(inCopy(f), 'utf8')) !== (await readFile(rel(f), 'utf8'))) changed.push(f);
    }
    expect(changed.sort()).toEqual([MODELS_FILE, ...RENDERED_FILES].sort());
    // And rendering again changes nothing.
    await runOk(tsx, [rel('scripts/deploy-render.ts'), '--root', dir, '--models', inCopy(MODELS_FILE), '--check']);
  });

  it('Kubernetes base and overlays: a valid inference unit per model, scaled and budgeted, reached by the gateway', async () => {
    for (const target of ['k8s/base', 'k8s/overlays/staging', 'k8s/overlays/production']) {
      const objs = await kustomizeCopy(target);
      for (const o of objs) await validateK8s(o);
      const units = (byKind(objs, 'Deployment') as Deployment[]).filter((d) => d.spec.template.metadata.labels['app.kubernetes.io/component'] === 'inference');
      expect(units.map((d) => d.metadata.name).sort(), target).toEqual([...NAMES].sort());
      for (const m of ADDED) {
        const d = find(objs, 'Deployment', m.name) as Deployment;
        expect(d.spec.template.spec.containers[0]!.env?.find((e) => e.name === 'NST_MODEL')?.value).toBe(m.name);
        find(objs, 'Service', m.name);
        const hpa = find(objs, 'HorizontalPodAutoscaler', m.name) as K8sObject & { spec: { minReplicas: number; maxReplicas: number } };
        find(objs, 'PodDisruptionBudget', m.name);
        if (target.endsWith('production')) {
          expect(d.spec.replicas).toBe(2);
          expect(hpa.spec).toMatchObject({ minReplicas: 2, maxReplicas: 6 });
        }
        if (target.endsWith('staging')) expect(hpa.spec.maxReplicas).toBe(2);
      }
      const cm = find(objs, 'ConfigMap', 'nst-config') as K8sObject & { data: Record<string, string> };
      expect(cm.data.NST_MODELS).toContain('model5=la_muse,model6=wreck');
      const gw = loadGatewayConfig({ ...cm.data, NST_ADMIN_TOKEN: 'x'.repeat(32) });
      expect(gw.inferenceUrls.model6).toBe('http://model6:8001');
    }
  });

  it('docker-compose: a service per model behind the gateway, none published', async () => {
    const r = await runOk('docker-compose', ['-f', inCopy('docker-compose.yml'), 'config'], { env: { NST_TAG: 'test' } });
    const services = (parse(r.stdout) as { services: Record<string, { environment?: Record<string, string>; ports?: unknown[]; depends_on?: Record<string, unknown> }> }).services;
    for (const m of ADDED) {
      expect(services[m.name]!.environment!.NST_MODEL).toBe(m.name);
      expect(services[m.name]!.ports ?? []).toEqual([]);
      expect(services.gateway!.depends_on![m.name]).toEqual({ condition: 'service_healthy' });
    }
    const gw = loadGatewayConfig({ ...services.gateway!.environment, NST_ADMIN_TOKEN: undefined });
    expect(Object.keys(gw.inferenceUrls)).toEqual(gw.NST_MODELS.map((m) => m.name));
    expect(gw.NST_MODELS.map((m) => m.style)).toEqual(expect.arrayContaining(['la_muse', 'wreck']));
  });

  it('Prometheus: the compose job scrapes every unit, labelled by model and component; promtool accepts it', async () => {
    const c = parse(await readFile(inCopy('k8s/monitoring/prometheus/prometheus.yml'), 'utf8')) as { global: unknown; scrape_configs: { job_name: string; static_configs?: { targets: string[]; labels?: Record<string, string> }[] }[] };
    const compose = c.scrape_configs.find((s) => s.job_name === 'nst-compose')!;
    for (const m of NAMES) expect(compose.static_configs).toContainEqual({ targets: [`${m}:8001`], labels: { app: m, component: 'inference' } });
    const file = inCopy('prometheus-compose.yml');
    await writeFile(file, stringify({ global: c.global, scrape_configs: [compose] }));
    const r = await run('promtool', ['check', 'config', file]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it('Ansible renders the copy with a replica count for every unit', async () => {
    const out = inCopy('rendered');
    await runOk('ansible-playbook', ['deploy-k8s.yml', '-e', 'nst_env=production', '-e', 'nst_render_only=true', '-e', `nst_repo_root=${dir}`, '-e', `nst_render_dir=${out}`], { cwd: rel('ansible'), timeoutMs: 120_000 });
    const objs = parseYamlStream(await readFile(path.join(out, 'nst.yaml'), 'utf8'));
    for (const m of NAMES) expect((find(objs, 'Deployment', m) as Deployment).spec.replicas, m).toBe(2);
  });
});
