/**
 * Renders the per-model parts of every deployment artefact from the one model list
 * (services/common/models.json): the Kubernetes inference units, the model settings in the
 * ConfigMap, the compose services and the Prometheus targets for compose. Everything else in
 * those files is written by hand and selects inference by label, so it never names a model.
 *
 * A rendered part sits between `# >>> rendered: <id>` and `# <<< rendered: <id>` lines; the
 * renderer replaces only what is between them, so comments and anchors around it stay as written.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { modelsFileSchema, modelsSetting, type ModelEntry } from '@nst/common/styles';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const MODELS_FILE = 'services/common/models.json';
/** In containers every inference pod listens on this port, whatever the model. */
export const INFERENCE_CONTAINER_PORT = 8001;

/** Files holding rendered parts (paths relative to the repository root). */
export const RENDERED_FILES = ['k8s/base/inference-units.yaml', 'k8s/base/configmap.yaml', 'docker-compose.yml', 'k8s/monitoring/prometheus/prometheus.yml'] as const;
const UNIT_TEMPLATE = 'k8s/units/inference.yaml';

export function readModelList(file = path.join(ROOT, MODELS_FILE)): ModelEntry[] {
  return modelsFileSchema.parse(JSON.parse(readFileSync(file, 'utf8'))).models;
}

/** The settings the services read: models the NST_MODELS setting names, and where each is served. */
export function modelSettings(models: ModelEntry[], urlOf: (name: string) => string) {
  const NST_MODELS = modelsSetting(models);
  const named = new Set(NST_MODELS.split(',').map((p) => p.split('=')[0]));
  const NST_INFERENCE_URLS = models
    .filter((m) => named.has(m.name))
    .map((m) => `${m.name}=${urlOf(m.name)}`)
    .join(',');
  return { NST_MODELS, NST_INFERENCE_URLS };
}

const inCluster = (name: string) => `http://${name}:${INFERENCE_CONTAINER_PORT}`;

/** Replaces the lines between the region's markers; throws when the file has no such region. */
export function replaceRegion(text: string, id: string, body: string[]): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === `# >>> rendered: ${id}`);
  const end = lines.findIndex((l) => l.trim() === `# <<< rendered: ${id}`);
  if (start < 0 || end < start) throw new Error(`no rendered region "${id}" (a "# >>> rendered: ${id}" … "# <<< rendered: ${id}" pair)`);
  return [...lines.slice(0, start + 1), ...body, ...lines.slice(end)].join('\n');
}

function unitsYaml(models: ModelEntry[], template: string): string {
  // The template's own leading comment explains the placeholders; the rendered file has its own.
  const body = template.replace(/^(#.*\n)+/, '');
  const units = models.map((m) => `# ---- ${m.name} (${m.kind}${m.kind === 'fast-style' ? `: ${m.style}` : ''}) ----\n${body.replaceAll('{{name}}', m.name).replaceAll('{{kind}}', m.kind).trimEnd()}\n`);
  return [
    `# Rendered by \`pnpm deploy:render\` from ${MODELS_FILE} and ${UNIT_TEMPLATE}: do not edit.`,
    '# Add a model to the list (and its weights) and render again.',
    units.join('---\n'),
  ].join('\n');
}

const quoted = (s: string) => JSON.stringify(s);

/** Every rendered file's new content for this model list (reads the current files from `root`). */
export function renderArtefacts(models: ModelEntry[], root = ROOT): Record<string, string> {
  const read = (f: string) => readFileSync(path.join(root, f), 'utf8');
  const cluster = modelSettings(models, inCluster);
  const out: Record<string, string> = {};

  out['k8s/base/inference-units.yaml'] = unitsYaml(models, read(UNIT_TEMPLATE));

  out['k8s/base/configmap.yaml'] = replaceRegion(read('k8s/base/configmap.yaml'), 'model-settings', [
    `  NST_MODELS: ${quoted(cluster.NST_MODELS)}`,
    `  NST_INFERENCE_URLS: ${quoted(cluster.NST_INFERENCE_URLS)}`,
  ]);

  let compose = replaceRegion(read('docker-compose.yml'), 'model-list', [
    'x-model-list:',
    `  models: &models ${quoted(cluster.NST_MODELS)}`,
    `  inference-urls: &inference-urls ${quoted(cluster.NST_INFERENCE_URLS)}`,
    '  units-healthy: &units-healthy',
    ...models.map((m) => `    ${m.name}: { condition: service_healthy }`),
  ]);
  compose = replaceRegion(
    compose,
    'inference-units',
    models.flatMap((m) => [`  ${m.name}:`, '    <<: *inference-unit', '    environment:', '      <<: *inference-env', `      NST_MODEL: ${m.name}`]),
  );
  out['docker-compose.yml'] = compose;

  out['k8s/monitoring/prometheus/prometheus.yml'] = replaceRegion(
    read('k8s/monitoring/prometheus/prometheus.yml'),
    'compose-inference-targets',
    models.flatMap((m) => [`      - targets: ["${m.name}:${INFERENCE_CONTAINER_PORT}"]`, `        labels: { app: ${m.name}, component: inference }`]),
  );
  return out;
}
