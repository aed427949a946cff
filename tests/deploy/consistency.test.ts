/**
 * One contract, three places: the services' code defaults, docker-compose.yml and the Kubernetes
 * manifests (plus the Dockerfiles and nginx) must agree on ports, service DNS names, environment
 * variable names, probe paths, volume paths, upload limits and labels/selectors; and the model
 * list (services/common/models.json) is what every artefact is rendered from (the rendered
 * files themselves are checked by render.unit.test.ts).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_MODELS, MODEL_LIST, modelKind, modelListSchema } from '@nst/common';
import { loadGatewayConfig } from '../../services/gateway/src/config.ts';
import { loadInferenceConfig } from '../../services/inference/src/config.ts';
import { k8sRunnerEnv } from '../../services/finetune/src/jobs/kubernetesLauncher.ts';
import { byKind, find, kustomize, readText, rel, runOk, type K8sObject } from './tools.ts';

type ComposeService = {
  build?: { dockerfile?: string; args?: Record<string, string> };
  environment?: Record<string, string | null>;
  ports?: { published: number | string; target: number }[] | string[];
  volumes?: ({ source: string; target: string; type: string } | string)[];
  healthcheck?: { test?: string[] };
  image?: string;
};
type Container = { name: string; image: string; ports?: { name?: string; containerPort: number }[]; env?: { name: string; value?: string }[]; envFrom?: { configMapRef?: { name: string } }[]; volumeMounts?: { name: string; mountPath: string }[] };
type Deployment = K8sObject & { spec: { template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: { containers: Container[]; volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[] } } } };

const MODELS = MODEL_LIST.map((m) => m.name);
/** The models NST_MODELS names (the gateway routes to these). */
const SERVED = modelListSchema.parse(DEFAULT_MODELS).map((m) => m.name);
const NODE_SERVICES = ['gateway', ...MODELS, 'finetune'];

// ---- code defaults (read from the services' own configuration code) ----
const gatewayDefaults = loadGatewayConfig({});
const finetuneDefaultPort = Number(new URL(gatewayDefaults.NST_FINETUNE_URL).port);

/** Every NST_* variable the services' code and scripts read. */
function envNamesInCode(): Set<string> {
  // NST_DATABASE_URL is read by the store's PostgreSQL backend, NST_IMAGE_RETENTION_DAYS by the retention job.
  const names = new Set<string>(['LOG_LEVEL', 'NODE_ENV', 'NST_DATABASE_URL', 'NST_IMAGE_RETENTION_DAYS', ...Object.keys(k8sRunnerEnv)]);
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const f of readdirSync(dir)) {
      const p = path.join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith('.ts')) for (const m of readFileSync(p, 'utf8').matchAll(/\bNST_[A-Z0-9_]+\b/g)) names.add(m[0]);
    }
  };
  for (const s of readdirSync(rel('services'))) walk(rel('services', s, 'src'));
  walk(rel('scripts'));
  return names;
}

const parseUrlMap = (s: string) => Object.fromEntries(s.split(',').map((p) => p.split('=').map((x) => x.trim()) as [string, string]));

let compose: Record<string, ComposeService>;
let base: K8sObject[];
let config: Record<string, string>;
const deployment = (name: string) => find(base, 'Deployment', name) as Deployment;
const container = (name: string) => deployment(name).spec.template.spec.containers[0]!;
const k8sEnv = (name: string): Record<string, string> => {
  const c = container(name);
  const fromCm = c.envFrom?.some((e) => e.configMapRef?.name === 'nst-config') ? config : {};
  return { ...fromCm, ...Object.fromEntries((c.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!])) };
};
const composeEnv = (name: string) => compose[name]!.environment ?? {};
const composePorts = (name: string) => (compose[name]!.ports ?? []).map((p) => (typeof p === 'string' ? p : `${p.published}:${p.target}`));
const servicePort = (name: string) => (find(base, 'Service', name) as K8sObject & { spec: { ports: { port: number }[] } }).spec.ports[0]!.port;

beforeAll(async () => {
  const r = await runOk('docker-compose', ['-f', rel('docker-compose.yml'), '--profile', 'elk', 'config']);
  compose = (parse(r.stdout) as { services: Record<string, ComposeService> }).services;
  base = await kustomize('k8s/base');
  config = (find(base, 'ConfigMap', 'nst-config') as K8sObject & { data: Record<string, string> }).data;
});

describe('the model list is the one source of every per-model artefact', () => {
  it('compose and Kubernetes run one inference unit per model of the list, nothing else names a model', () => {
    const composeUnits = Object.entries(compose).filter(([, s]) => s.build?.args?.SERVICE === 'inference' && s.environment?.NST_MODEL);
    expect(composeUnits.map(([n]) => n).sort()).toEqual([...MODELS].sort());
    const k8sUnits = byKind(base, 'Deployment').filter((d) => (d as Deployment).spec.template.metadata.labels['app.kubernetes.io/component'] === 'inference');
    expect(k8sUnits.map((d) => d.metadata.name).sort()).toEqual([...MODELS].sort());
    // Hand-written deployment files select inference by label, never by a model's name.
    for (const f of ['k8s/base/networkpolicy.yaml', 'k8s/base/hpa.yaml', 'k8s/base/pdb.yaml', 'k8s/overlays/staging/kustomization.yaml', 'k8s/overlays/production/kustomization.yaml', 'ansible/group_vars/all.yml', 'ansible/roles/nst_app/defaults/main.yml', 'Jenkinsfile.finetune']) {
      for (const m of MODELS) expect(readText(f), `${f} names ${m}`).not.toMatch(new RegExp(`\\b${m}\\b`));
    }
  });

  it('NST_MODELS names exactly the models of the list, in order, each of its kind', () => {
    expect(SERVED).toEqual(MODEL_LIST.map((m) => m.name));
    for (const m of modelListSchema.parse(DEFAULT_MODELS)) {
      const entry = MODEL_LIST.find((e) => e.name === m.name)!;
      expect(entry.kind).toBe(modelKind(m));
      if (entry.kind === 'fast-style') expect(entry.style).toBe(m.style);
    }
  });
});

describe('ports and service DNS names agree between code, compose and Kubernetes', () => {
  it('every inference unit listens on 8001 in containers, published on no host interface', () => {
    expect(loadInferenceConfig({ NST_MODEL: SERVED[0], NST_INFERENCE_PORT: '8001' }).port).toBe(8001);
    for (const m of MODELS) {
      expect(composeEnv(m).NST_INFERENCE_PORT).toBe('8001');
      expect(composeEnv(m).NST_MODEL).toBe(m);
      expect(composePorts(m)).toEqual([]);
      expect(compose[m]!.healthcheck!.test!.join(' ')).toContain('127.0.0.1:8001/ready');
      expect(k8sEnv(m).NST_INFERENCE_PORT).toBe('8001');
      expect(k8sEnv(m).NST_MODEL).toBe(m);
      expect(container(m).ports![0]!.containerPort).toBe(8001);
      expect(servicePort(m)).toBe(8001);
      expect(deployment(m).spec.template.metadata.annotations?.['prometheus.io/port']).toBe('8001');
    }
  });

  it('compose publishes only the gateway and the UI (Kibana, optional, on loopback)', () => {
    const published = Object.entries(compose).flatMap(([name, s]) => (s.ports ?? []).map((p) => [name, typeof p === 'string' ? p : `${(p as { host_ip?: string }).host_ip ?? ''}:${p.published}:${p.target}`]));
    for (const [name, p] of published) {
      if (name === 'kibana') expect(p).toMatch(/^127\.0\.0\.1:/);
      else expect(['gateway', 'frontend'], `${name} publishes ${p}`).toContain(name);
    }
  });

  it('the gateway reaches each model at http://<model>:<port> — the compose service and the Kubernetes Service', () => {
    const fromCompose = parseUrlMap(composeEnv('gateway').NST_INFERENCE_URLS!);
    const fromK8s = parseUrlMap(k8sEnv('gateway').NST_INFERENCE_URLS!);
    for (const urls of [fromCompose, fromK8s]) {
      expect(Object.keys(urls)).toEqual(SERVED);
      for (const m of SERVED) {
        const u = new URL(urls[m]!);
        expect(u.hostname).toBe(m);
        expect(Number(u.port)).toBe(8001);
      }
    }
    for (const m of MODELS) {
      expect(compose[m], `compose service ${m}`).toBeTruthy();
      find(base, 'Service', m);
    }
    // The gateway's own config accepts the container setting.
    expect(loadGatewayConfig({ ...k8sEnv('gateway'), NST_ADMIN_TOKEN: 'x'.repeat(32) }).inferenceUrls).toEqual(fromK8s);
    expect(loadGatewayConfig({ ...(composeEnv('gateway') as Record<string, string>), NST_ADMIN_TOKEN: undefined }).inferenceUrls).toEqual(fromCompose);
  });

  it('the gateway listens on 8000 in containers (code default 8080 is for local runs)', () => {
    expect(gatewayDefaults.NST_GATEWAY_PORT).toBe(8080);
    expect(composeEnv('gateway').NST_GATEWAY_PORT).toBe('8000');
    expect(composePorts('gateway')).toEqual(['8000:8000']);
    expect(k8sEnv('gateway').NST_GATEWAY_PORT).toBe('8000');
    expect(container('gateway').ports![0]!.containerPort).toBe(8000);
    expect(servicePort('gateway')).toBe(8000);
    expect(readText('docker/nginx.conf')).toMatch(/server gateway:8000;/);
    expect(loadGatewayConfig({ ...k8sEnv('gateway'), NST_ADMIN_TOKEN: 'x'.repeat(32) }).NST_GATEWAY_PORT).toBe(8000);
  });

  it('fine-tuning listens on the port the gateway expects (8005) and is reached as http://finetune:8005', () => {
    expect(finetuneDefaultPort).toBe(8005);
    expect(composeEnv('finetune').NST_FINETUNE_PORT).toBe(String(finetuneDefaultPort));
    expect(composePorts('finetune')).toEqual([]);
    expect(k8sEnv('finetune').NST_FINETUNE_PORT).toBe('8005');
    expect(container('finetune').ports![0]!.containerPort).toBe(8005);
    expect(servicePort('finetune')).toBe(8005);
    for (const url of [composeEnv('gateway').NST_FINETUNE_URL!, k8sEnv('gateway').NST_FINETUNE_URL!]) expect(url).toBe('http://finetune:8005');
    expect(composeEnv('finetune').NST_TRAINING_RUNNER).toBe('local');
    expect(k8sEnv('finetune').NST_TRAINING_RUNNER).toBe('kubernetes');
  });

  it('the UI is nginx on 8080 in compose, Kubernetes and the image', () => {
    expect(composePorts('frontend')).toEqual(['8080:8080']);
    expect(container('frontend').ports![0]!.containerPort).toBe(8080);
    expect(servicePort('frontend')).toBe(8080);
    expect(readText('docker/nginx.conf')).toMatch(/listen 8080;/);
    expect(readText('docker/frontend.Dockerfile')).toMatch(/EXPOSE 8080/);
  });

  it('compose services and Kubernetes Services/Deployments have the same names and label selectors', () => {
    for (const name of [...NODE_SERVICES, 'frontend']) {
      expect(compose[name], `compose ${name}`).toBeTruthy();
      const svc = find(base, 'Service', name) as K8sObject & { spec: { selector: Record<string, string> } };
      expect(svc.spec.selector).toEqual({ 'app.kubernetes.io/name': name });
      expect(deployment(name).spec.template.metadata.labels['app.kubernetes.io/name']).toBe(name);
    }
  });
});

describe('shared settings agree', () => {
  it('every service binds 0.0.0.0 in containers (code default 127.0.0.1)', () => {
    expect(loadInferenceConfig({}).NST_HOST).toBe('127.0.0.1');
    for (const s of NODE_SERVICES) {
      expect(composeEnv(s).NST_HOST, s).toBe('0.0.0.0');
      expect(k8sEnv(s).NST_HOST, s).toBe('0.0.0.0');
    }
    expect(readText('docker/node.Dockerfile')).toMatch(/NST_HOST=0\.0\.0\.0/);
  });

  it('NST_MODELS is the code default everywhere', () => {
    expect(config.NST_MODELS).toBe(DEFAULT_MODELS);
    for (const s of [...NODE_SERVICES, 'models-pull']) expect(composeEnv(s).NST_MODELS, s).toBe(DEFAULT_MODELS);
    expect(DEFAULT_MODELS.split(',').map((p) => p.split('=')[0])).toEqual(SERVED);
  });

  it('the shared volume is /persistent_storage: NST_STORAGE_DIR, compose bind mount, PVC mounts, image', () => {
    expect(config.NST_STORAGE_DIR).toBe('/persistent_storage');
    for (const s of [...NODE_SERVICES, 'models-pull']) {
      expect(composeEnv(s).NST_STORAGE_DIR, s).toBe('/persistent_storage');
      // docker-compose 1.x prints "/abs/src:/target:rw"; 2.x prints { source, target }.
      const vol = (compose[s]!.volumes ?? []).map((v) => {
        const [source, target] = typeof v === 'string' ? v.split(':') : [v.source, v.target];
        return `${path.relative(rel('.'), source!)}:${target}`;
      });
      expect(vol, s).toContain('persistent_storage:/persistent_storage');
    }
    for (const s of NODE_SERVICES) {
      const pod = deployment(s).spec.template.spec;
      const claim = pod.volumes!.find((v) => v.persistentVolumeClaim?.claimName === 'nst-pvc')!;
      expect(pod.containers[0]!.volumeMounts!.find((m) => m.name === claim.name)!.mountPath).toBe(config.NST_STORAGE_DIR);
    }
    expect(readText('docker/node.Dockerfile')).toMatch(/NST_STORAGE_DIR=\/persistent_storage/);
    expect(k8sRunnerEnv.NST_K8S_PVC.parse(undefined)).toBe('nst-pvc');
    expect(k8sRunnerEnv.NST_K8S_CONFIGMAP.parse(undefined)).toBe('nst-config');
    expect(k8sRunnerEnv.NST_K8S_JOB_SERVICE_ACCOUNT.parse(undefined)).toBe(config.NST_K8S_JOB_SERVICE_ACCOUNT);
    find(base, 'ServiceAccount', config.NST_K8S_JOB_SERVICE_ACCOUNT!);
  });

  it('the upload limit is the gateway default (25 MiB) in compose, the ConfigMap, nginx and the Ingress', () => {
    const bytes = gatewayDefaults.NST_MAX_UPLOAD_BYTES;
    expect(bytes).toBe(26214400);
    expect(composeEnv('gateway').NST_MAX_UPLOAD_BYTES).toBe(String(bytes));
    expect(config.NST_MAX_UPLOAD_BYTES).toBe(String(bytes));
    const mb = `${bytes / (1024 * 1024)}m`;
    expect(readText('docker/nginx.conf')).toContain(`client_max_body_size ${mb};`);
    expect(byKind(base, 'Ingress')[0]!.metadata.annotations!['nginx.ingress.kubernetes.io/proxy-body-size']).toBe(mb);
  });

  it('the gateway does not serve the UI in containers (nginx does)', () => {
    expect(gatewayDefaults.NST_SERVE_FRONTEND).toBe(true);
    expect(composeEnv('gateway').NST_SERVE_FRONTEND).toBe('false');
    expect(config.NST_SERVE_FRONTEND).toBe('false');
  });

  it('uses only environment variable names the code reads', () => {
    const known = envNamesInCode();
    const used = new Map<string, string>();
    for (const s of [...NODE_SERVICES, 'models-pull']) for (const k of Object.keys(composeEnv(s))) used.set(k, `compose ${s}`);
    for (const k of Object.keys(config)) used.set(k, 'ConfigMap nst-config');
    for (const s of NODE_SERVICES) for (const e of container(s).env ?? []) used.set(e.name, `Deployment ${s}`);
    const unknown = [...used].filter(([k]) => !known.has(k));
    expect(unknown, `variables no code reads: ${JSON.stringify(unknown)}`).toEqual([]);
  });
});

describe('probe and health paths exist in the code', () => {
  const src = (dir: string) => {
    let text = '';
    const walk = (d: string) => {
      for (const f of readdirSync(d)) {
        const p = path.join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (f.endsWith('.ts')) text += readFileSync(p, 'utf8');
      }
    };
    if (existsSync(dir)) walk(dir);
    return text;
  };
  it('GET /health (shared), GET /ready (gateway and inference), GET /metrics (shared)', () => {
    const common = src(rel('services/common/src'));
    expect(common).toMatch(/get\('\/health'/);
    expect(common).toMatch(/get\('\/metrics'/);
    for (const s of ['gateway', 'inference']) expect(src(rel('services', s, 'src')), s).toMatch(/['"]\/ready['"]/);
  });
  it.skipIf(!existsSync(rel('services/finetune/src/main.ts')))('fine-tuning answers /ready too', () => {
    expect(src(rel('services/finetune/src'))).toMatch(/['"]\/ready['"]/);
  });
});

describe('images', () => {
  const dockerfile = readText('docker/node.Dockerfile');
  const rootPkg = JSON.parse(readText('package.json')) as { packageManager: string; devDependencies: Record<string, string> };
  const arg = (name: string, text = dockerfile) => new RegExp(`ARG ${name}=(\\S+)`).exec(text)?.[1];

  it('pins the workspace pnpm and tsx versions and Node 20', () => {
    expect(`pnpm@${arg('PNPM_VERSION')}`).toBe(rootPkg.packageManager);
    expect(arg('PNPM_VERSION', readText('docker/frontend.Dockerfile'))).toBe(arg('PNPM_VERSION'));
    expect(rootPkg.devDependencies.tsx!.replace(/^[\^~]/, '')).toBe(arg('TSX_VERSION'));
    for (const f of ['docker/node.Dockerfile', 'docker/frontend.Dockerfile']) expect(arg('NODE_IMAGE', readText(f))).toMatch(/^node:20[.-]/);
  });

  it('is multi-stage, installs one service with pnpm deploy --prod, runs non-root with a HEALTHCHECK and OCI labels', () => {
    expect(dockerfile.match(/^FROM /gm)!.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^ARG SERVICE$/m);
    expect(dockerfile).toMatch(/pnpm --filter "@nst\/\$\{SERVICE\}" deploy --prod/);
    expect(dockerfile).toMatch(/^USER 1000:1000$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(dockerfile).toMatch(/org\.opencontainers\.image\.revision/);
    expect(dockerfile).toMatch(/@tensorflow\/tfjs-node/);
    expect(dockerfile).toMatch(/^CMD \["tsx", "src\/main\.ts"\]$/m);
    const fe = readText('docker/frontend.Dockerfile');
    expect(fe).toMatch(/^USER 101:101$/m);
    expect(fe).toMatch(/^HEALTHCHECK /m);
    // Pod security contexts use the same uids as the images.
    expect((deployment('gateway').spec.template.spec as unknown as { securityContext: { runAsUser: number } }).securityContext.runAsUser).toBe(1000);
    expect((deployment('frontend').spec.template.spec as unknown as { securityContext: { runAsUser: number } }).securityContext.runAsUser).toBe(101);
  });

  it('every SERVICE built by compose is a workspace package with a main entry', () => {
    for (const s of NODE_SERVICES) {
      const svc = compose[s]!.build!.args!.SERVICE!;
      const pkg = JSON.parse(readText('services', svc, 'package.json')) as { name: string };
      expect(pkg.name).toBe(`@nst/${svc}`);
      if (svc !== 'finetune' || existsSync(rel('services/finetune/src/main.ts'))) expect(existsSync(rel('services', svc, 'src/main.ts')), svc).toBe(true);
    }
    // The image's package manifests are all copied before `pnpm fetch`.
    for (const d of readdirSync(rel('services'))) {
      if (!existsSync(rel('services', d, 'package.json'))) continue;
      for (const f of ['docker/node.Dockerfile', 'docker/frontend.Dockerfile']) expect(readText(f), f).toContain(`COPY services/${d}/package.json services/${d}/`);
    }
    // models-pull runs the repository script inside the inference image, which carries the networks it imports.
    expect(compose['models-pull']!.build!.args!.SERVICE).toBe('inference');
    expect(dockerfile).toMatch(/if \[ -d \/app\/node_modules\/@nst\/network \]; then .*cp scripts\/models-pull\.ts/);
    expect(existsSync(rel('scripts/models-pull.ts'))).toBe(true);
  });

  it('the admin token Secret is named the same in manifests, the example and Ansible', () => {
    const example = parse(readText('k8s/base/secret.example.yaml')) as { metadata: { name: string }; stringData: Record<string, string> };
    expect(example.metadata.name).toBe('nst-admin-token');
    expect(Object.keys(example.stringData)).toEqual(['token']);
    expect(readText('ansible/roles/nst_app/tasks/apply.yml')).toMatch(/name: nst-admin-token[\s\S]*token: "\{\{ nst_admin_token \}\}"/);
  });
});
