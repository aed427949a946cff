/**
 * The Kubernetes Job launcher: the Job manifest validates against the Kubernetes schema and is
 * hardened; the launcher creates, follows (watch, then re-read when the watch ends), cancels and
 * reads logs through the real @kubernetes/client-node, talking HTTP to a small API server on
 * loopback that answers like the Kubernetes API for these few endpoints.
 */
import { KubeConfig, type V1Job } from '@kubernetes/client-node';
import { Job } from 'kubernetes-models/batch/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createService } from '@nst/common';
import { decodeEnvelope } from '../src/jobs/envelope.ts';
import { KubernetesJobLauncher, buildTrainingJob, jobState, loadK8sRunnerSettings, trainingJobName, type JobTemplateConfig } from '../src/jobs/kubernetesLauncher.ts';

const cfg: JobTemplateConfig = {
  namespace: 'nst-staging',
  image: 'registry.example.com/nst/finetune:abc123',
  pvcName: 'nst-pvc',
  configMapName: 'nst-config',
  databaseSecretName: 'nst-database',
  serviceAccountName: 'nst-training',
  command: ['tsx', 'src/cli.ts', 'job'],
  cpu: '2',
  memory: '4Gi',
  activeDeadlineSeconds: 3600,
  ttlSecondsAfterFinished: 600,
};

describe('buildTrainingJob', () => {
  const job = buildTrainingJob(cfg, { id: 'Job_42:abc', model: 'model1', params: { model: 'model1', steps: 200, data: 'feedback' } });

  it('validates against the Kubernetes batch/v1 Job schema', () => {
    expect(() => new Job(job as ConstructorParameters<typeof Job>[0]).validate()).not.toThrow();
    const broken = structuredClone(job);
    (broken.spec!.template.spec!.containers[0] as { name: unknown }).name = 42;
    expect(() => new Job(broken as ConstructorParameters<typeof Job>[0]).validate()).toThrow(/name/);
  });

  it('runs the training entry point once, hardened, with the shared volume and the job as JSON', () => {
    expect(job.metadata!.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(job.metadata!.namespace).toBe('nst-staging');
    expect(job.spec!.backoffLimit).toBe(0);
    const pod = job.spec!.template.spec!;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.serviceAccountName).toBe('nst-training');
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    const c = pod.containers[0]!;
    expect(c.image).toBe(cfg.image);
    expect(c.command).toEqual(['tsx', 'src/cli.ts', 'job']);
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(c.volumeMounts).toEqual([
      { name: 'storage', mountPath: '/persistent_storage' },
      { name: 'tmp', mountPath: '/tmp' },
    ]);
    expect(pod.volumes!.find((v) => v.name === 'storage')!.persistentVolumeClaim!.claimName).toBe('nst-pvc');
    expect(c.envFrom).toEqual([{ configMapRef: { name: 'nst-config' } }]);
    const env = Object.fromEntries(c.env!.map((e) => [e.name, e.value]));
    // The envelope the entry point decodes (jobs/envelope.ts), not a shape of its own.
    expect(JSON.parse(env.NST_TRAINING_JOB!)).toEqual({ id: 'Job_42:abc', model: 'model1', params: { model: 'model1', steps: 200, data: 'feedback' } });
    expect(decodeEnvelope(env.NST_TRAINING_JOB)).toMatchObject({ id: 'Job_42:abc', model: 'model1', params: { steps: 200, data: 'feedback', batch_size: 4 } });
    expect(env.NST_TRAINING_RUNNER).toBe('local');
    expect(env.NST_STORAGE_DIR).toBe('/persistent_storage');
    // Label values are restricted; the raw id is kept in an annotation.
    expect(job.metadata!.labels!['nst.io/job-id']).toBe('Job_42-abc');
    expect(job.metadata!.annotations!['nst.io/job-id']).toBe('Job_42:abc');
    expect(pod.containers[0]!.resources).toEqual({ requests: { cpu: '2', memory: '4Gi' }, limits: { cpu: '2', memory: '4Gi' } });
  });

  it('refuses to build a Job the entry point would refuse', () => {
    expect(() => buildTrainingJob(cfg, { id: 'j', model: 'model1', params: { model: 'model2' } })).toThrow(/params.model/);
    expect(() => buildTrainingJob(cfg, { id: 'j', model: 'model1', params: { model: 'model1', steps: -1 } })).toThrow(/invalid training envelope: params.steps/);
    expect(() => decodeEnvelope(JSON.stringify({ id: 'j', model: 'model1', steps: 2 }))).toThrow(/not a training envelope/);
  });

  it('names jobs within DNS-1123 limits', () => {
    expect(trainingJobName('abc')).toBe('nst-train-abc');
    expect(trainingJobName('A'.repeat(100)).length).toBeLessThanOrEqual(52);
    expect(trainingJobName('--x--')).toBe('nst-train-x');
    expect(() => trainingJobName('***')).toThrow();
  });

  it('reads the job state from the status', () => {
    expect(jobState(undefined)).toBe('pending');
    expect(jobState({ status: {} })).toBe('pending');
    expect(jobState({ status: { active: 1 } })).toBe('running');
    expect(jobState({ status: { succeeded: 1 } })).toBe('succeeded');
    expect(jobState({ status: { conditions: [{ type: 'Failed', status: 'True' }] } } as V1Job)).toBe('failed');
    expect(jobState({ status: { conditions: [{ type: 'Complete', status: 'True' }] } } as V1Job)).toBe('succeeded');
  });

  it('defaults to the in-process runner; the settings match the manifests', () => {
    const s = loadK8sRunnerSettings({});
    expect(s.NST_TRAINING_RUNNER).toBe('local');
    expect(s.NST_K8S_PVC).toBe('nst-pvc');
    expect(loadK8sRunnerSettings({ NST_TRAINING_RUNNER: 'kubernetes' }).NST_TRAINING_RUNNER).toBe('kubernetes');
    expect(() => loadK8sRunnerSettings({ NST_TRAINING_RUNNER: 'slurm' })).toThrow();
  });
});

describe('KubernetesJobLauncher over HTTP', () => {
  type Stored = { job: V1Job; reads: number; outcome: 'succeeded' | 'failed'; watchMode: 'events' | 'close' };
  const jobs = new Map<string, Stored>();
  const auth: string[] = [];
  const deleted: string[] = [];
  const api = createService({ service: 'fake-kube-api', logLevel: 'silent' });
  let launcher: KubernetesJobLauncher;

  const withStatus = (s: Stored, state: 'running' | 'succeeded' | 'failed'): V1Job => ({
    ...s.job,
    status:
      state === 'running'
        ? { active: 1 }
        : state === 'succeeded'
          ? { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] }
          : { failed: 1, conditions: [{ type: 'Failed', status: 'True' }] },
  });

  beforeAll(async () => {
    // Like the API server, accept DELETE with an empty JSON body.
    api.removeContentTypeParser('application/json');
    api.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
      try {
        done(null, body ? JSON.parse(String(body)) : {});
      } catch (err) {
        done(err as Error, undefined);
      }
    });
    api.addHook('onRequest', async (req) => {
      auth.push(String(req.headers.authorization));
    });
    api.get<{ Params: { ns: string; name: string } }>('/api/v1/namespaces/:ns/pods/:name', async (req) => {
      const { name, ns } = req.params;
      return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns }, spec: { containers: [{ name: 'finetune', image: 'registry.test/nst/finetune:fromPod' }] } };
    });
    api.post<{ Body: V1Job }>('/apis/batch/v1/namespaces/:ns/jobs', async (req, reply) => {
      const job = req.body;
      const model = job.metadata!.labels!['nst.io/model'];
      jobs.set(job.metadata!.name!, { job, reads: 0, outcome: model === 'model4' ? 'failed' : 'succeeded', watchMode: model === 'model2' ? 'close' : 'events' });
      return reply.status(201).send(job);
    });
    api.get<{ Params: { name: string } }>('/apis/batch/v1/namespaces/:ns/jobs/:name', async (req, reply) => {
      const s = jobs.get(req.params.name);
      if (!s) return reply.status(404).send({ kind: 'Status', code: 404 });
      s.reads++;
      // "close" jobs finish while nobody watches: the second read sees the outcome.
      return withStatus(s, s.watchMode === 'close' && s.reads > 1 ? s.outcome : 'running');
    });
    api.get<{ Querystring: { watch?: string; fieldSelector?: string } }>('/apis/batch/v1/namespaces/:ns/jobs', async (req, reply) => {
      const q = req.query;
      const name = /metadata\.name=(.+)/.exec(q.fieldSelector ?? '')?.[1] ?? '';
      const s = jobs.get(name);
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'application/json' });
      if (!s || q.watch !== 'true') return reply.raw.end();
      reply.raw.write(`${JSON.stringify({ type: 'ADDED', object: withStatus(s, 'running') })}\n`);
      if (s.watchMode === 'close') return reply.raw.end();
      setTimeout(() => {
        reply.raw.write(`${JSON.stringify({ type: 'MODIFIED', object: withStatus(s, s.outcome) })}\n`);
        reply.raw.end();
      }, 50);
    });
    api.delete<{ Params: { name: string }; Querystring: { propagationPolicy?: string } }>('/apis/batch/v1/namespaces/:ns/jobs/:name', async (req, reply) => {
      const { name } = req.params;
      if (!jobs.delete(name)) return reply.status(404).send({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404, reason: 'NotFound' });
      deleted.push(`${name}?${req.query.propagationPolicy}`);
      return { kind: 'Status', apiVersion: 'v1', status: 'Success' };
    });
    api.get<{ Querystring: { labelSelector?: string } }>('/api/v1/namespaces/:ns/pods', async (req) => {
      const sel = req.query.labelSelector ?? '';
      return { apiVersion: 'v1', kind: 'PodList', metadata: {}, items: [{ metadata: { name: `${sel.split('=')[1]}-xyz12` } }] };
    });
    api.get<{ Params: { name: string } }>('/api/v1/namespaces/:ns/pods/:name/log', async (req, reply) => reply.type('text/plain').send(`step 1 loss 3.2\nlog of ${req.params.name}\n`));
    await api.listen({ host: '127.0.0.1', port: 0 });
    const port = (api.server.address() as { port: number }).port;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'test', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'finetune', token: 'sa-token-123' }],
      contexts: [{ name: 'test', cluster: 'test', user: 'finetune', namespace: 'nst-test' }],
      currentContext: 'test',
    });
    launcher = KubernetesJobLauncher.fromEnv({ NST_TRAINING_RUNNER: 'kubernetes', NST_K8S_POD_NAME: 'finetune-abc', NST_K8S_NAMESPACE: 'nst-test' }, kc);
  });
  afterAll(async () => {
    await api.close();
  });

  it("creates the Job with this pod's image and follows the watch to success", async () => {
    const name = await launcher.launch({ id: 'j1', model: 'model1', params: { model: 'model1', steps: 10 } });
    expect(name).toBe('nst-train-j1');
    const created = jobs.get(name)!.job;
    expect(created.spec!.template.spec!.containers[0]!.image).toBe('registry.test/nst/finetune:fromPod');
    expect(created.metadata!.namespace).toBe('nst-test');
    const states: string[] = [];
    expect(await launcher.wait(name, { onState: (s) => states.push(s), retryMs: 10 })).toBe('succeeded');
    expect(states).toEqual(['running', 'succeeded']);
    expect(auth.every((a) => a === 'Bearer sa-token-123')).toBe(true);
  });

  it('re-reads the Job when the watch ends early, and reports failure', async () => {
    const name = await launcher.launch({ id: 'j2', model: 'model2', params: { model: 'model2' } });
    expect(await launcher.wait(name, { retryMs: 10 })).toBe('succeeded');
    const failing = await launcher.launch({ id: 'j4', model: 'model4', params: { model: 'model4' } });
    expect(await launcher.wait(failing, { retryMs: 10 })).toBe('failed');
  });

  it('reads the pod log and cancels (deletes) the Job with its pods', async () => {
    const name = await launcher.launch({ id: 'j5', model: 'model1', params: { model: 'model1' } });
    expect(await launcher.logs(name, 10)).toContain(`log of ${name}-xyz12`);
    await launcher.cancel(name);
    expect(deleted).toContain(`${name}?Background`);
    await launcher.cancel(name); // already gone: fine
  });
});
