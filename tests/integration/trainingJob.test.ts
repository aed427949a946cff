/**
 * A training run in a cluster, as Kubernetes runs it: the fine-tuning service
 * (NST_TRAINING_RUNNER=kubernetes, with the ConfigMap of k8s/base) creates a batch/v1 Job
 * through a loopback Kubernetes API; a stand-in kubelet runs that Job's container as the image
 * would (the `pnpm deploy --prod` folder docker/node.Dockerfile copies to /app, its ENV and
 * CMD, the Job's command and env, the ConfigMap, the storage volume). It trains, publishes a
 * version with its card and reports success through the Job status the service watches, even
 * though the service is restarted (SIGTERM, as a rollout does) while the Job runs, or is down
 * until after the Job finished and its TTL removed it. A broken
 * envelope, a wrong command and a file missing from the deploy folder each fail the job.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { IJob as V1Job } from 'kubernetes-models/batch/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ModelStore } from '@nst/common';
import { pullPretrained } from '@nst/network';
import { imageSpecFromDockerfile, startFakeKubernetes, type FakeKubernetes } from '../support/fakeKubernetes.ts';
import { adminApi, startFinetuneProcess, waitUntil, type FinetuneProcess } from '../support/finetuneProcess.ts';
import { startFakeUpstream, type FakeUpstream } from '../support/upstream.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const DOCKERFILE = path.join(ROOT, 'docker/node.Dockerfile');
const mirror = process.env.NST_DATA_MIRROR;
const TOKEN = 'k8s-test-admin-token-0123456789';
const TINY = { model: 'model1', steps: 2, image_size: 32, batch_size: 1, max_images: 1, heldout_images: 1, data: 'base', publish: 'latest' };

describe('training Jobs run as Kubernetes runs them', () => {
  let dir: string;
  let app: string;
  let storage: string;
  let kube: FakeKubernetes;
  let upstream: FakeUpstream;
  let svc: FinetuneProcess | undefined;
  let serviceEnv: Record<string, string>;

  beforeAll(async () => {
    if (!mirror) throw new Error('this test needs NST_DATA_MIRROR (the shared data folder)');
    dir = await mkdtemp(path.join(tmpdir(), 'nst-k8sjob-'));
    app = path.join(dir, 'app');
    storage = path.join(dir, 'pvc');
    // The image's /app, made as the Dockerfile makes it.
    const dockerfile = await readFile(DOCKERFILE, 'utf8');
    expect(dockerfile).toContain('pnpm --filter "@nst/${SERVICE}" deploy --prod --prefer-offline /app');
    await run('pnpm', ['--filter', '@nst/finetune', 'deploy', '--prod', '--prefer-offline', app], { cwd: ROOT, timeout: 120_000 });
    await mkdir(path.join(app, 'scripts'), { recursive: true });
    await writeFile(path.join(app, 'scripts/models-pull.ts'), await readFile(path.join(ROOT, 'scripts/models-pull.ts')));
    await mkdir(path.join(dir, 'tmp'));

    // The volume holds what models:pull put there; training data comes from the (loopback) upstream.
    await pullPretrained(new ModelStore(storage), { name: 'model1', style: 'wave' }, { mirror, cacheDir: path.join(storage, 'data-cache') });
    upstream = await startFakeUpstream(mirror);
    const configMap = parseYaml(await readFile(path.join(ROOT, 'k8s/base/configmap.yaml'), 'utf8')) as { metadata: { name: string }; data: Record<string, string> };
    // An operator pointing the platform at an artefact proxy.
    const data = { ...configMap.data, NST_DATA_UPSTREAM: upstream.url };
    const image = imageSpecFromDockerfile(DOCKERFILE, { SERVICE: 'finetune' });
    kube = await startFakeKubernetes('nst-test', {
      image,
      paths: { [image.workdir]: app, '/persistent_storage': storage, '/tmp': path.join(dir, 'tmp') },
      // The image's tsx (installed globally there; the workspace's here, same version) and node.
      binPath: [path.join(ROOT, 'node_modules/.bin'), path.dirname(process.execPath), '/usr/bin', '/bin'].join(':'),
      configMaps: { [configMap.metadata.name]: data },
    });
    const kubeconfig = path.join(dir, 'kubeconfig');
    await writeFile(kubeconfig, kube.kubeconfig());
    // As k8s/base/finetune.yaml runs it: the ConfigMap, the admin token, the downward API.
    serviceEnv = {
      ...data,
      NST_STORAGE_DIR: storage,
      NST_HOST: '127.0.0.1',
      NST_ADMIN_TOKEN: TOKEN,
      NST_K8S_NAMESPACE: 'nst-test',
      NST_K8S_POD_NAME: 'finetune-7d9f-abcde',
      KUBECONFIG: kubeconfig,
    };
  }, 240_000);

  afterAll(async () => {
    await svc?.stop('SIGKILL');
    await kube?.close();
    await upstream?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('trains in the Job, publishes, and the restarted service follows the same Job to success', async () => {
    svc = await startFinetuneProcess(serviceEnv);
    let api = adminApi(svc.url, TOKEN);
    const submitted = await api('POST', '/finetune', TINY);
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
    const id = submitted.body.id as string;
    const name = await waitUntil('the Job to be created', async () => [...kube.jobs.keys()].find((n) => kube.jobs.get(n)!.job.metadata!.annotations!['nst.io/job-id'] === id));
    const created = kube.jobs.get(name)!.job;
    expect(created.spec!.template.spec!.containers[0]!.image).toBe('registry.test/nst/finetune:1.0.0');
    await waitUntil('the pod to run', async () => (kube.jobs.get(name)!.job.status?.active ?? 0) > 0);

    // A rollout: SIGTERM while the Job runs. The Job is left alone; the new pod adopts it.
    const stopping = performance.now();
    expect(await svc.stop('SIGTERM')).toBe(0);
    const stoppedIn = (performance.now() - stopping) / 1000;
    expect(kube.deleted).toEqual([]);
    expect(kube.jobs.get(name)!.process!.exitCode).toBeNull();
    const listsBefore = kube.requests.filter((r) => r.startsWith('GET /apis/batch/v1/namespaces/nst-test/jobs?labelSelector=')).length;
    svc = await startFinetuneProcess(serviceEnv);
    api = adminApi(svc.url, TOKEN);
    expect(kube.requests.filter((r) => r.startsWith('GET /apis/batch/v1/namespaces/nst-test/jobs?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dnst-finetune')).length).toBeGreaterThan(listsBefore);
    const resumed = await api('GET', `/jobs/${id}`);
    expect(resumed.body).toMatchObject({ state: 'running', runner: 'kubernetes', kubernetes_job: name });
    const restarted = performance.now();

    const done = await waitUntil('the job to finish', async () => {
      const j = (await api('GET', `/jobs/${id}`)).body;
      return ['succeeded', 'failed', 'cancelled', 'interrupted'].includes(j.state) ? j : null;
    });
    const podLog = kube.jobs.get(name)!.log;
    expect(done.error, podLog).toBeNull();
    expect(done).toMatchObject({ state: 'succeeded', step: 2, steps: 2, backend: expect.stringMatching(/^(onnx|wasm|tensorflow)/), result: { version: 'model1_v2' } });
    expect(kube.jobs.get(name)!.job.status!.succeeded).toBe(1);
    expect(kube.deleted).toEqual([]);
    // Followed by a watch on that one Job, as before the restart.
    expect(kube.requests.filter((r) => r.includes('watch=true') && r.includes(`metadata.name%3D${name}`)).length).toBeGreaterThanOrEqual(2);
    console.log(`SIGTERM during the Job: service exited 0 in ${stoppedIn.toFixed(1)} s, Job not deleted; the restarted service re-adopted ${name} and saw it succeed ${((performance.now() - restarted) / 1000).toFixed(1)} s later`);
    const card = await new ModelStore(storage).card('model1', 'model1_v2');
    expect(card).toMatchObject({ parent: 'model1_v1', source: { kind: 'finetune', job_id: id }, training: { job_id: id, backend: done.backend, params: { steps: 2, image_size: 32 } } });
    // The Job logged ECS JSON, as the services do.
    const lines = podLog.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.every((l) => l['ecs.version'] && l['service.name'] === 'finetune-job')).toBe(true);
    expect(lines.at(-1)).toMatchObject({ nst: { event: 'training_job', job: { id, state: 'succeeded' } } });
    // The service's record of it, on the volume.
    expect(JSON.parse(await readFile(path.join(storage, 'finetune-jobs', `${id}.json`), 'utf8'))).toMatchObject({ state: 'succeeded', backend: done.backend });
  }, 400_000);

  it('takes the result of a Job that finished, and was removed by its TTL, while no service ran', async () => {
    let api = adminApi(svc!.url, TOKEN);
    const submitted = await api('POST', '/finetune', { ...TINY, publish: 'none' });
    expect(submitted.status).toBe(202);
    const id = submitted.body.id as string;
    const name = await waitUntil('the Job to be created', async () => [...kube.jobs.keys()].find((n) => kube.jobs.get(n)!.job.metadata!.annotations!['nst.io/job-id'] === id));
    await waitUntil('the pod to run', async () => kube.jobs.get(name)!.exit !== undefined);
    expect(await svc!.stop('SIGTERM')).toBe(0);
    expect(await kube.jobs.get(name)!.exit).toBe(0);
    kube.jobs.delete(name);
    svc = await startFinetuneProcess(serviceEnv);
    api = adminApi(svc.url, TOKEN);
    const done = await waitUntil('the job to finish', async () => {
      const j = (await api('GET', `/jobs/${id}`)).body;
      return j.state !== 'running' && j;
    });
    expect(done).toMatchObject({ state: 'succeeded', error: null, result: { version: 'model1_v3', published: false } });
    // Not started again.
    expect(kube.jobs.has(name)).toBe(false);
  }, 300_000);

  async function failedJob(api: ReturnType<typeof adminApi>) {
    const submitted = await api('POST', '/finetune', { ...TINY, publish: 'none' });
    expect(submitted.status).toBe(202);
    return waitUntil('the job to fail', async () => {
      const j = (await api('GET', `/jobs/${submitted.body.id}`)).body;
      return ['succeeded', 'failed'].includes(j.state) ? j : null;
    });
  }

  it('fails the job on a broken envelope, a wrong command or a file missing from the image', async () => {
    const api = adminApi(svc!.url, TOKEN);
    // The shape the launcher once wrote: parameters spread into the envelope.
    kube.kubelet.mutate = (job: V1Job) => {
      const env = job.spec!.template.spec!.containers[0]!.env!.find((e) => e.name === 'NST_TRAINING_JOB')!;
      const { id, model, params } = JSON.parse(env.value!) as { id: string; model: string; params: Record<string, unknown> };
      env.value = JSON.stringify({ id, model, ...params });
    };
    const envelope = await failedJob(api);
    expect(envelope.state).toBe('failed');
    expect(envelope.error).toMatch(/NST_TRAINING_JOB is not a training envelope/);

    kube.kubelet.mutate = (job: V1Job) => {
      job.spec!.template.spec!.containers[0]!.command = ['tsx', 'src/training.ts'];
    };
    const command = await failedJob(api);
    expect(command.state).toBe('failed');
    expect(command.error).toMatch(/training Job nst-train-.* failed/);

    kube.kubelet.mutate = undefined;
    await rename(path.join(app, 'src/jobs/envelope.ts'), path.join(app, 'src/jobs/envelope.ts.moved'));
    try {
      const missing = await failedJob(api);
      expect(missing.state).toBe('failed');
      expect(missing.error).toMatch(/envelope/);
    } finally {
      await rename(path.join(app, 'src/jobs/envelope.ts.moved'), path.join(app, 'src/jobs/envelope.ts'));
    }
    expect(await new ModelStore(storage).versions('model1')).toEqual([1, 2, 3]);
  }, 200_000);
});
