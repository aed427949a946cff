/**
 * Kubernetes manifests, rendered by the real kustomize (base, both overlays, ELK, monitoring),
 * validated object by object against the Kubernetes schemas (kubernetes-models), then checked
 * for what the issue requires: probes, security contexts, rolling updates, services, ingress,
 * storage, autoscaling, disruption budgets, network policies and least-privilege RBAC.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { MODEL_LIST } from '@nst/common';
import { byKind, find, kustomize, kustomizeVersion, rel, validateK8s, type K8sObject } from './tools.ts';

type Container = {
  name: string;
  image: string;
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: unknown; fieldRef?: unknown } }[];
  envFrom?: { configMapRef?: { name: string } }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; runAsNonRoot?: boolean; capabilities?: { drop?: string[] } };
  volumeMounts?: { name: string; mountPath: string }[];
};
type Probe = { httpGet?: { path: string; port: string | number } };
type PodSpec = {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type: string } };
  containers: Container[];
  volumes?: { name: string; emptyDir?: object; persistentVolumeClaim?: { claimName: string }; configMap?: { name: string } }[];
};
type Deployment = K8sObject & {
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    strategy?: { type?: string; rollingUpdate?: { maxUnavailable?: number | string; maxSurge?: number | string } };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
};

const TARGETS = ['k8s/base', 'k8s/overlays/staging', 'k8s/overlays/production', 'k8s/elk', 'k8s/monitoring'];
const APP_TARGETS = ['k8s/base', 'k8s/overlays/staging', 'k8s/overlays/production'];
const MODELS = MODEL_LIST.map((m) => m.name);
const NODE_SERVICES = ['gateway', ...MODELS, 'finetune'];
/** Pods that reach PostgreSQL (NST_DATABASE_URL from the Secret nst-database). */
const DATABASE_CLIENTS = ['gateway', 'finetune'];
const SERVING = ['frontend', ...NODE_SERVICES];

const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('kustomize renders and every object validates against the Kubernetes schemas', () => {
  it('uses a real kustomize', async () => {
    expect(await kustomizeVersion()).toMatch(/kustomize|Kustomize/i);
  });
  for (const dir of TARGETS) {
    it(dir, async () => {
      const objs = await kustomize(dir);
      expect(objs.length).toBeGreaterThan(5);
      for (const o of objs) await validateK8s(o);
      // No two objects share kind/namespace/name.
      const keys = objs.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
      expect(new Set(keys).size).toBe(keys.length);
    });
  }

  it('the schema check catches a broken object', async () => {
    const d = structuredClone(find(await kustomize('k8s/base'), 'Deployment', 'gateway')) as Deployment;
    (d.spec.template.spec.containers[0]!.ports![0] as { containerPort: unknown }).containerPort = 'eight thousand';
    await expect(validateK8s(d)).rejects.toThrow(/containerPort/);
  });
});

describe.each(APP_TARGETS)('%s', (dir) => {
  const load = () => kustomize(dir);

  it('has one namespace and puts every namespaced object in it', async () => {
    const objs = await load();
    const [ns, ...more] = byKind(objs, 'Namespace');
    expect(more).toHaveLength(0);
    expect(ns!.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    for (const o of objs) {
      if (['Namespace', 'PersistentVolume'].includes(o.kind)) continue;
      expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(ns!.metadata.name);
    }
  });

  it('runs a Deployment for every service, hardened, probed and rolled out without losing capacity', async () => {
    const objs = await load();
    const deps = byKind(objs, 'Deployment') as Deployment[];
    expect(deps.map((d) => d.metadata.name).sort()).toEqual([...SERVING].sort());
    for (const d of deps) {
      const name = d.metadata.name;
      const pod = d.spec.template.spec;
      expect(matches(d.spec.selector.matchLabels, d.spec.template.metadata.labels), `${name} selector`).toBe(true);
      expect(d.spec.strategy?.type, name).toBe('RollingUpdate');
      expect(d.spec.strategy?.rollingUpdate?.maxUnavailable, name).toBe(0);
      expect(pod.securityContext?.runAsNonRoot, name).toBe(true);
      expect(pod.securityContext?.runAsUser, name).toBeGreaterThan(0);
      expect(pod.securityContext?.seccompProfile?.type, name).toBe('RuntimeDefault');
      expect(pod.serviceAccountName, name).toMatch(/^nst-/);
      expect(pod.automountServiceAccountToken, name).toBe(name === 'finetune');
      const tmp = pod.volumes?.find((v) => v.emptyDir);
      expect(tmp, `${name} has an emptyDir for /tmp`).toBeTruthy();
      for (const c of pod.containers) {
        expect(c.securityContext?.readOnlyRootFilesystem, name).toBe(true);
        expect(c.securityContext?.allowPrivilegeEscalation, name).toBe(false);
        expect(c.securityContext?.capabilities?.drop, name).toEqual(['ALL']);
        expect(c.volumeMounts?.find((m) => m.mountPath === '/tmp')?.name, name).toBe(tmp!.name);
        for (const r of ['cpu', 'memory']) {
          expect(c.resources?.requests?.[r], `${name} request ${r}`).toBeTruthy();
          expect(c.resources?.limits?.[r], `${name} limit ${r}`).toBeTruthy();
        }
        for (const p of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) expect(c[p]?.httpGet, `${name} ${p}`).toBeTruthy();
        if (NODE_SERVICES.includes(name)) {
          expect(c.livenessProbe!.httpGet!.path).toBe('/health');
          expect(c.startupProbe!.httpGet!.path).toBe('/health');
          expect(c.readinessProbe!.httpGet!.path).toBe('/ready');
          // Shared volume from the RWX claim, configuration from the ConfigMap.
          const storage = pod.volumes?.find((v) => v.persistentVolumeClaim?.claimName === 'nst-pvc');
          expect(storage, `${name} mounts nst-pvc`).toBeTruthy();
          expect(c.volumeMounts?.find((m) => m.name === storage!.name)?.mountPath).toBe('/persistent_storage');
          expect(c.envFrom?.some((e) => e.configMapRef?.name === 'nst-config'), `${name} envFrom nst-config`).toBe(true);
        } else {
          expect(c.livenessProbe!.httpGet!.path).toBe('/health');
        }
        // Named probe ports exist on the container.
        for (const p of [c.startupProbe, c.readinessProbe, c.livenessProbe]) {
          const port = p?.httpGet?.port;
          if (typeof port === 'string') expect(c.ports?.some((x) => x.name === port), `${name} port ${port}`).toBe(true);
        }
      }
    }
  });

  it('takes the admin token from the Secret, only where it is needed', async () => {
    const deps = byKind(await load(), 'Deployment') as Deployment[];
    for (const d of deps) {
      const env = d.spec.template.spec.containers[0]!.env ?? [];
      const db = env.find((e) => e.name === 'NST_DATABASE_URL');
      if (DATABASE_CLIENTS.includes(d.metadata.name)) {
        expect(db?.valueFrom?.secretKeyRef, d.metadata.name).toEqual({ name: 'nst-database', key: 'url' });
        expect(d.spec.template.metadata.labels['nst.io/database-client'], d.metadata.name).toBe('true');
      } else {
        expect(db, d.metadata.name).toBeUndefined();
      }
      const token = env.find((e) => e.name === 'NST_ADMIN_TOKEN');
      if (['gateway', 'finetune'].includes(d.metadata.name)) {
        expect(token?.valueFrom?.secretKeyRef).toEqual({ name: 'nst-admin-token', key: 'token' });
      } else {
        expect(token, d.metadata.name).toBeUndefined();
      }
      // No literal secrets anywhere in the environment.
      for (const e of env) expect(e.name.match(/TOKEN|PASSWORD|SECRET/) && e.value !== undefined, `${d.metadata.name} ${e.name}`).toBeFalsy();
    }
    expect(byKind(await load(), 'Secret')).toHaveLength(0);
  });

  it('exposes each Deployment through a ClusterIP Service whose selector and ports match', async () => {
    const objs = await load();
    const deps = byKind(objs, 'Deployment') as Deployment[];
    const services = (byKind(objs, 'Service') as (K8sObject & { spec: { type?: string; selector: Record<string, string>; ports: { name?: string; port: number; targetPort: string | number }[] } })[]).filter((s) => s.metadata.name !== 'postgres');
    expect(services.map((s) => s.metadata.name).sort()).toEqual([...SERVING].sort());
    for (const s of services) {
      expect(s.spec.type ?? 'ClusterIP').toBe('ClusterIP');
      const targets = deps.filter((d) => matches(s.spec.selector, d.spec.template.metadata.labels));
      expect(targets.map((d) => d.metadata.name), `Service ${s.metadata.name} selects exactly its Deployment`).toEqual([s.metadata.name]);
      const c = targets[0]!.spec.template.spec.containers[0]!;
      for (const p of s.spec.ports) {
        const target = typeof p.targetPort === 'string' ? c.ports?.find((x) => x.name === p.targetPort) : c.ports?.find((x) => x.containerPort === p.targetPort);
        expect(target, `${s.metadata.name} targetPort ${p.targetPort}`).toBeTruthy();
        expect(p.port, `${s.metadata.name} service port equals container port`).toBe(target!.containerPort);
      }
    }
  });

  it('routes / to the frontend and /api to the gateway over TLS via cert-manager', async () => {
    const objs = await load();
    const [ing, ...more] = byKind(objs, 'Ingress') as (K8sObject & { spec: { ingressClassName?: string; tls: { hosts: string[]; secretName: string }[]; rules: { host: string; http: { paths: { path: string; pathType: string; backend: { service: { name: string; port: { name?: string; number?: number } } } }[] } }[] } })[];
    expect(more).toHaveLength(0);
    expect(ing!.metadata.annotations?.['cert-manager.io/cluster-issuer']).toBeTruthy();
    expect(ing!.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-body-size']).toBe('25m');
    const rule = ing!.spec.rules[0]!;
    expect(ing!.spec.tls[0]!.hosts).toContain(rule.host);
    expect(ing!.spec.tls[0]!.secretName).toBeTruthy();
    const route = (p: string) => rule.http.paths.find((x) => x.path === p)?.backend.service;
    expect(route('/')?.name).toBe('frontend');
    expect(route('/api')?.name).toBe('gateway');
    const svcNames = byKind(objs, 'Service').map((s) => s.metadata.name);
    for (const p of rule.http.paths) expect(svcNames).toContain(p.backend.service.name);
  });

  it('shares one ReadWriteMany volume: PersistentVolume bound by the claim nst-pvc', async () => {
    const objs = await load();
    const pvc = find(objs, 'PersistentVolumeClaim', 'nst-pvc') as K8sObject & { spec: { accessModes: string[]; volumeName: string; storageClassName?: string } };
    expect(pvc.spec.accessModes).toEqual(['ReadWriteMany']);
    const pv = find(objs, 'PersistentVolume', pvc.spec.volumeName) as K8sObject & { spec: { accessModes: string[]; storageClassName?: string } };
    expect(pv.spec.accessModes).toContain('ReadWriteMany');
    expect(pv.spec.storageClassName).toBe(pvc.spec.storageClassName);
  });

  it('autoscales the gateway and every inference deployment on CPU 70%', async () => {
    const objs = await load();
    const hpas = byKind(objs, 'HorizontalPodAutoscaler') as (K8sObject & { spec: { scaleTargetRef: { kind: string; name: string }; minReplicas: number; maxReplicas: number; metrics: { resource: { name: string; target: { averageUtilization: number } } }[] } })[];
    expect(hpas.map((h) => h.spec.scaleTargetRef.name).sort()).toEqual(['gateway', ...MODELS].sort());
    for (const h of hpas) {
      find(objs, h.spec.scaleTargetRef.kind, h.spec.scaleTargetRef.name);
      expect(h.spec.metrics).toEqual([{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }]);
      expect(h.spec.maxReplicas).toBeGreaterThanOrEqual(h.spec.minReplicas);
    }
  });

  it('has a PodDisruptionBudget selecting each serving Deployment', async () => {
    const objs = await load();
    const deps = byKind(objs, 'Deployment') as Deployment[];
    const pdbs = byKind(objs, 'PodDisruptionBudget') as (K8sObject & { spec: { selector: { matchLabels: Record<string, string> } } })[];
    for (const name of ['frontend', 'gateway', ...MODELS]) {
      const d = deps.find((x) => x.metadata.name === name)!;
      expect(pdbs.some((p) => matches(p.spec.selector.matchLabels, d.spec.template.metadata.labels)), name).toBe(true);
    }
  });

  it('denies all traffic by default and opens only the documented paths', async () => {
    const objs = await load();
    type Peer = { podSelector?: { matchLabels?: Record<string, string> }; namespaceSelector?: { matchLabels?: Record<string, string> }; ipBlock?: unknown };
    type NP = K8sObject & { spec: { podSelector: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] }; policyTypes: string[]; ingress?: { from?: Peer[]; ports?: { port: number }[] }[]; egress?: { to?: Peer[]; ports?: { port: number; protocol: string }[] }[] } };
    const nps = byKind(objs, 'NetworkPolicy') as NP[];
    const deny = nps.find((p) => p.metadata.name === 'default-deny-all')!;
    expect(deny.spec.podSelector).toEqual({});
    expect(deny.spec.policyTypes.sort()).toEqual(['Egress', 'Ingress']);
    expect(deny.spec.ingress).toBeUndefined();
    expect(deny.spec.egress).toBeUndefined();
    const dns = nps.find((p) => p.metadata.name === 'allow-dns-egress')!;
    expect(dns.spec.podSelector).toEqual({});
    expect(dns.spec.egress![0]!.ports!.map((p) => `${p.protocol}/${p.port}`).sort()).toEqual(['TCP/53', 'UDP/53']);

    const deps = byKind(objs, 'Deployment') as Deployment[];
    const labelsOf = (name: string) => deps.find((d) => d.metadata.name === name)!.spec.template.metadata.labels;
    const selects = (p: NP, name: string) => !!p.spec.podSelector.matchLabels && matches(p.spec.podSelector.matchLabels, labelsOf(name));
    const ingressPeers = (name: string) => nps.filter((p) => p.spec.policyTypes.includes('Ingress') && selects(p, name)).flatMap((p) => (p.spec.ingress ?? []).flatMap((r) => r.from ?? []));
    const fromIngressController = (peer: Peer) => peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'ingress-nginx' && !peer.podSelector;
    // Inference pods: only the gateway (and Prometheus through metrics-from-monitoring, matched by expression).
    for (const m of MODELS) {
      const peers = ingressPeers(m);
      expect(peers.length, m).toBeGreaterThan(0);
      for (const peer of peers) expect(peer.podSelector?.matchLabels, `${m} ingress peer`).toEqual({ 'app.kubernetes.io/name': 'gateway' });
    }
    for (const name of ['frontend', 'gateway']) {
      const peers = ingressPeers(name);
      expect(peers.length, name).toBeGreaterThan(0);
      for (const peer of peers) expect(fromIngressController(peer), `${name} ingress peer ${JSON.stringify(peer)}`).toBe(true);
    }
    // Only the gateway may send to inference pods.
    const inferencePorts = new Set([8001]);
    for (const p of nps) {
      for (const rule of p.spec.egress ?? []) {
        const toInference = (rule.to ?? []).some((t) => t.podSelector?.matchLabels?.['app.kubernetes.io/component'] === 'inference' || MODELS.includes(t.podSelector?.matchLabels?.['app.kubernetes.io/name'] ?? ''));
        if (toInference) expect(p.spec.podSelector.matchLabels, p.metadata.name).toEqual({ 'app.kubernetes.io/name': 'gateway' });
        if ((rule.ports ?? []).some((x) => inferencePorts.has(x.port))) expect(p.spec.podSelector.matchLabels?.['app.kubernetes.io/name'], p.metadata.name).toBe('gateway');
      }
    }
  });

  it('gives fine-tuning exactly Job management and pod reading in its own namespace', async () => {
    const objs = await load();
    expect(byKind(objs, 'ClusterRole')).toHaveLength(0);
    expect(byKind(objs, 'ClusterRoleBinding')).toHaveLength(0);
    const sas = byKind(objs, 'ServiceAccount').map((s) => s.metadata.name).sort();
    expect(sas).toEqual(['nst-database', 'nst-finetune', 'nst-frontend', 'nst-gateway', 'nst-inference', 'nst-training']);
    const role = find(objs, 'Role', 'nst-finetune-jobs') as K8sObject & { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] };
    const grants = role.rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.map((res) => `${g || 'core'}/${res}: ${[...r.verbs].sort().join(',')}`))).sort();
    expect(grants).toEqual(['batch/jobs: create,delete,get,list,watch', 'core/pods/log: get', 'core/pods: get,list,watch']);
    const bindings = byKind(objs, 'RoleBinding') as (K8sObject & { roleRef: { kind: string; name: string }; subjects: { kind: string; name: string; namespace?: string }[] })[];
    expect(bindings).toHaveLength(1);
    expect(bindings[0]!.roleRef).toMatchObject({ kind: 'Role', name: 'nst-finetune-jobs' });
    expect(bindings[0]!.subjects).toEqual([{ kind: 'ServiceAccount', name: 'nst-finetune', namespace: role.metadata.namespace }]);
  });

  it('instantiates the inference unit once per model of the list, every pod on 8001', async () => {
    const objs = await load();
    const units = (byKind(objs, 'Deployment') as Deployment[]).filter((d) => d.spec.template.metadata.labels['app.kubernetes.io/component'] === 'inference');
    expect(units.map((d) => d.metadata.name).sort()).toEqual([...MODELS].sort());
    for (const m of MODEL_LIST) {
      const d = units.find((u) => u.metadata.name === m.name)!;
      const c = d.spec.template.spec.containers[0]!;
      const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
      expect(env.NST_MODEL).toBe(m.name);
      expect(env.NST_INFERENCE_PORT).toBe('8001');
      expect(c.ports![0]!.containerPort).toBe(8001);
      expect(d.spec.template.metadata.labels['nst.io/model-kind']).toBe(m.kind);
      expect(c.image).toMatch(/inference/);
    }
  });

  it('runs PostgreSQL as a StatefulSet on its own volume, password from the Secret, reachable only by the database clients', async () => {
    const objs = await load();
    type STS = K8sObject & { spec: { serviceName: string; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec & { containers: (Container & { readinessProbe?: { exec?: { command: string[] } } })[] } }; volumeClaimTemplates: { metadata: { name: string }; spec: { accessModes: string[] } }[] } };
    const sts = find(objs, 'StatefulSet', 'postgres') as STS;
    const pod = sts.spec.template.spec;
    const c = pod.containers[0]!;
    expect(matches(sts.spec.selector.matchLabels, sts.spec.template.metadata.labels)).toBe(true);
    find(objs, 'Service', sts.spec.serviceName);
    expect(sts.spec.volumeClaimTemplates[0]!.spec.accessModes).toEqual(['ReadWriteOnce']);
    expect(c.volumeMounts?.find((m) => m.name === sts.spec.volumeClaimTemplates[0]!.metadata.name)?.mountPath).toBe('/var/lib/postgresql/data');
    expect(c.env?.find((e) => e.name === 'POSTGRES_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({ name: 'nst-database', key: 'password' });
    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    expect(c.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(c.readinessProbe?.exec?.command[0]).toBe('pg_isready');
    type NP = K8sObject & { spec: { podSelector: { matchLabels?: Record<string, string> }; ingress?: { from?: { podSelector?: { matchLabels?: Record<string, string> } }[]; ports?: { port: number }[] }[] } };
    const np = find(objs, 'NetworkPolicy', 'postgres-from-platform') as NP;
    expect(np.spec.podSelector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'postgres' });
    expect(np.spec.ingress).toEqual([{ from: [{ podSelector: { matchLabels: { 'nst.io/database-client': 'true' } } }, { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'nst-training' } } }], ports: [{ protocol: 'TCP', port: 5432 }] }]);
    // Every client may send to it: the labelled pods and the training Jobs' pods.
    for (const [name, selector] of [['database-client-egress', { 'nst.io/database-client': 'true' }], ['training-database-egress', { 'app.kubernetes.io/name': 'nst-training' }]] as const) {
      const eg = find(objs, 'NetworkPolicy', name) as K8sObject & { spec: { podSelector: { matchLabels: Record<string, string> }; egress: { to: { podSelector?: { matchLabels: Record<string, string> } }[]; ports: { port: number }[] }[] } };
      expect(eg.spec.podSelector.matchLabels).toEqual(selector);
      expect(eg.spec.egress).toEqual([{ to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'postgres' } } }], ports: [{ protocol: 'TCP', port: 5432 }] }]);
    }
    // The seeding Job and the retention CronJob are clients too; inference is not.
    const seed = find(objs, 'Job', 'models-pull') as K8sObject & { spec: { template: { metadata: { labels: Record<string, string> }; spec: PodSpec } } };
    expect(seed.spec.template.metadata.labels['nst.io/database-client']).toBe('true');
    expect(seed.spec.template.spec.containers[0]!.env?.find((e) => e.name === 'NST_DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'nst-database', key: 'url' });
  });

  it('deletes old images with a daily CronJob running the gateway image\'s retention job on the shared volume', async () => {
    const objs = await load();
    type CJ = K8sObject & { spec: { schedule: string; concurrencyPolicy: string; jobTemplate: { spec: { template: { metadata: { labels: Record<string, string> }; spec: PodSpec & { containers: (Container & { command?: string[]; workingDir?: string })[] } } } } } };
    const cj = find(objs, 'CronJob', 'image-retention') as CJ;
    expect(cj.spec.concurrencyPolicy).toBe('Forbid');
    const pod = cj.spec.jobTemplate.spec.template.spec;
    const c = pod.containers[0]!;
    expect(c.image).toMatch(/gateway/);
    expect(c.command).toEqual(['tsx', 'src/retentionJob.ts']);
    expect(c.workingDir).toBe('/app');
    expect(c.envFrom?.some((e) => e.configMapRef?.name === 'nst-config')).toBe(true);
    const cm = find(objs, 'ConfigMap', 'nst-config') as K8sObject & { data: Record<string, string> };
    expect(Number(cm.data.NST_IMAGE_RETENTION_DAYS)).toBeGreaterThan(0);
    const storage = pod.volumes?.find((v) => v.persistentVolumeClaim?.claimName === 'nst-pvc');
    expect(c.volumeMounts?.find((m) => m.name === storage?.name)?.mountPath).toBe('/persistent_storage');
    expect(c.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(cj.spec.jobTemplate.spec.template.metadata.labels['nst.io/database-client']).toBe('true');
  });

  it('seeds the model store with a one-shot Job using the same volume and restricted security', async () => {
    const objs = await load();
    const job = find(objs, 'Job', 'models-pull') as K8sObject & { spec: { template: { spec: PodSpec } } };
    const c = job.spec.template.spec.containers[0]!;
    expect(c.image).toMatch(/inference/);
    expect(c.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(job.spec.template.spec.volumes?.some((v) => v.persistentVolumeClaim?.claimName === 'nst-pvc')).toBe(true);
  });
});

describe('overlays', () => {
  it('set per-environment namespaces, hosts, images and replicas', async () => {
    const stg = await kustomize('k8s/overlays/staging');
    const prod = await kustomize('k8s/overlays/production');
    expect(byKind(stg, 'Namespace')[0]!.metadata.name).toBe('nst-staging');
    expect(byKind(prod, 'Namespace')[0]!.metadata.name).toBe('nst');
    const host = (objs: K8sObject[]) => (byKind(objs, 'Ingress')[0] as unknown as { spec: { rules: { host: string }[] } }).spec.rules[0]!.host;
    expect(host(stg)).not.toBe(host(prod));
    const pvName = (objs: K8sObject[]) => byKind(objs, 'PersistentVolume')[0]!.metadata.name;
    expect(pvName(stg)).not.toBe(pvName(prod)); // cluster-scoped: must not collide
    for (const objs of [stg, prod]) {
      for (const d of byKind(objs, 'Deployment') as Deployment[]) {
        for (const c of d.spec.template.spec.containers) expect(c.image, d.metadata.name).toMatch(/^registry\.example\.com\/nst\/(frontend|gateway|inference|finetune):/);
      }
    }
    const replicas = (objs: K8sObject[], name: string) => (find(objs, 'Deployment', name) as Deployment).spec.replicas;
    expect(replicas(prod, 'model1')).toBeGreaterThanOrEqual(2);
    expect(replicas(stg, 'gateway')).toBe(1);
  });
});

describe('managed database component', () => {
  it('drops the in-cluster PostgreSQL and sends the clients to the managed one', async () => {
    await mkdir(rel('.tmp'), { recursive: true });
    const dir = await mkdtemp(path.join(rel('.tmp'), 'managed-db-'));
    try {
      const to = (p: string) => path.relative(dir, rel(p));
      await writeFile(path.join(dir, 'kustomization.yaml'), stringify({ resources: [to('k8s/overlays/production')], components: [to('k8s/components/managed-database')] }));
      const objs = await kustomize(path.relative(rel('.'), dir));
      for (const o of objs) await validateK8s(o);
      expect(byKind(objs, 'StatefulSet')).toHaveLength(0);
      expect(byKind(objs, 'Service').map((s) => s.metadata.name)).not.toContain('postgres');
      for (const name of ['database-client-egress', 'training-database-egress']) {
        const egress = find(objs, 'NetworkPolicy', name) as K8sObject & { spec: { egress: { to: { ipBlock?: { cidr: string } }[]; ports: { port: number }[] }[] } };
        expect(egress.spec.egress[0]!.to[0]!.ipBlock?.cidr, name).toBeTruthy();
        expect(egress.spec.egress[0]!.ports[0]!.port).toBe(5432);
      }
      // The clients still read NST_DATABASE_URL from the Secret, which then names the managed database.
      const gw = find(objs, 'Deployment', 'gateway') as Deployment;
      expect(gw.spec.template.spec.containers[0]!.env?.find((e) => e.name === 'NST_DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'nst-database', key: 'url' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('ELK and monitoring', () => {
  it('ships logs with a Filebeat DaemonSet to Logstash, Elasticsearch and Kibana', async () => {
    const objs = await kustomize('k8s/elk');
    expect(byKind(objs, 'DaemonSet').map((d) => d.metadata.name)).toEqual(['filebeat']);
    for (const [kind, name] of [['StatefulSet', 'elasticsearch'], ['Deployment', 'logstash'], ['Deployment', 'kibana'], ['Service', 'elasticsearch'], ['Service', 'logstash'], ['Service', 'kibana'], ['Job', 'kibana-dashboard-import']]) find(objs, kind!, name!);
    const cms = byKind(objs, 'ConfigMap') as (K8sObject & { data: Record<string, string> })[];
    const pipeline = cms.find((c) => c.data['logstash.conf'])!.data['logstash.conf']!;
    expect(pipeline).toMatch(/beats\s*\{\s*port => 5044/);
    expect(pipeline).toMatch(/json\s*\{\s*source => "message"/);
    expect(cms.find((c) => c.data['nst-dashboard.ndjson'])).toBeTruthy();
    const role = find(objs, 'ClusterRole', 'nst-filebeat') as K8sObject & { rules: { verbs: string[] }[] };
    for (const r of role.rules) expect(r.verbs.sort()).toEqual(['get', 'list', 'watch']);
  });

  it('has Prometheus scrape the annotated NST pods and ships the Grafana dashboard', async () => {
    const objs = await kustomize('k8s/monitoring');
    const cms = byKind(objs, 'ConfigMap') as (K8sObject & { data: Record<string, string> })[];
    expect(cms.find((c) => c.data['prometheus.yml'])!.data['prometheus.yml']).toMatch(/__meta_kubernetes_pod_annotation_prometheus_io_scrape/);
    const dash = cms.find((c) => c.data['nst-dashboard.json'])!;
    expect(dash.metadata.labels?.grafana_dashboard).toBe('1');
    const deps = byKind(await kustomize('k8s/base'), 'Deployment') as Deployment[];
    for (const d of deps.filter((x) => NODE_SERVICES.includes(x.metadata.name))) {
      const ann = (d.spec.template.metadata as { annotations?: Record<string, string> }).annotations ?? {};
      expect(ann['prometheus.io/scrape'], d.metadata.name).toBe('true');
      expect(ann['prometheus.io/path']).toBe('/metrics');
      expect(Number(ann['prometheus.io/port'])).toBe(d.spec.template.spec.containers[0]!.ports![0]!.containerPort);
    }
  });
});
