/**
 * A loopback stand-in for the Kubernetes API and a kubelet, for running training Jobs the way
 * a cluster does. The API answers the endpoints @kubernetes/client-node uses for Jobs (create,
 * get, list by label, watch, delete), pods (get, list, log) and ConfigMaps. Every Job created
 * is run by the "kubelet": the container's command/args (else the image's CMD), in the image's
 * working directory, with the image's ENV, the referenced ConfigMap and the container's env,
 * and each volume at its mount path mapped to a host folder. Status changes reach watchers as
 * MODIFIED events, as the Job controller's do.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import path from 'node:path';
import type { IJob as V1Job, IJobStatus as V1JobStatus } from 'kubernetes-models/batch/v1';
import type { IContainer as V1Container } from 'kubernetes-models/v1';

/** What the kubelet needs to know of the image: from its Dockerfile's final stage. */
export interface ImageSpec {
  workdir: string;
  env: Record<string, string>;
  cmd: string[];
}

/** Reads ENV, WORKDIR and CMD of a Dockerfile's last stage (ARG values substituted). */
export function imageSpecFromDockerfile(file: string, args: Record<string, string>): ImageSpec {
  const text = readFileSync(file, 'utf8').replace(/\\\n/g, ' ');
  const stages = text.split(/^FROM /m);
  const last = stages.at(-1)!;
  const sub = (v: string) => v.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a: string, b: string) => args[a ?? b] ?? '');
  const spec: ImageSpec = { workdir: '/', env: {}, cmd: [] };
  for (const line of last.split('\n')) {
    const [instr, ...rest] = line.trim().split(/\s+/);
    const value = rest.join(' ');
    if (instr === 'WORKDIR') spec.workdir = sub(value);
    if (instr === 'CMD') spec.cmd = JSON.parse(value) as string[];
    if (instr === 'ENV') for (const m of value.matchAll(/(\w+)=("[^"]*"|\S+)/g)) spec.env[m[1]!] = sub(m[2]!.replace(/^"|"$/g, ''));
  }
  return spec;
}

export interface KubeletOptions {
  image: ImageSpec;
  /** Host folder for each container path the image or volumes provide (e.g. /app, /persistent_storage, /tmp). */
  paths: Record<string, string>;
  /** PATH inside the "container" (where its tsx and node are). */
  binPath: string;
  configMaps: Record<string, Record<string, string>>;
  /** Secrets the pod may reference by secretKeyRef. */
  secrets?: Record<string, Record<string, string>>;
  /** Changes a Job before the kubelet runs it (to show a broken contract fails). */
  mutate?: (job: V1Job) => void;
}

interface Run {
  job: V1Job;
  process?: ChildProcess;
  log: string;
  exit?: Promise<number | null>;
}

export interface FakeKubernetes {
  url: string;
  namespace: string;
  jobs: Map<string, Run>;
  /** Every request: METHOD path?query. */
  requests: string[];
  deleted: string[];
  kubelet: KubeletOptions;
  /** A kubeconfig for the client, as `kubectl` would have one. */
  kubeconfig(): string;
  close(): Promise<void>;
}

function signalPod(run: Run, signal: NodeJS.Signals): void {
  const pid = run.process?.pid;
  if (pid === undefined || run.process!.exitCode !== null || run.process!.signalCode !== null) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};
const notFound = (res: ServerResponse, what: string) =>
  json(res, 404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `${what} not found`, reason: 'NotFound', code: 404 });

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString();
  return text ? JSON.parse(text) : {};
}

/** Maps a container path onto the host folders (longest prefix first). */
function mapPath(value: string, paths: Record<string, string>): string {
  for (const [from, to] of Object.entries(paths).sort((a, b) => b[0].length - a[0].length)) {
    if (value === from) return to;
    if (value.startsWith(`${from}/`)) return path.join(to, value.slice(from.length + 1));
  }
  return value;
}

function matchesLabels(job: V1Job, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return job.metadata?.labels?.[k!] === v;
  });
}

export async function startFakeKubernetes(namespace: string, kubelet: KubeletOptions): Promise<FakeKubernetes> {
  const jobs = new Map<string, Run>();
  const requests: string[] = [];
  const deleted: string[] = [];
  const watchers = new Set<{ name: string; res: ServerResponse }>();
  let resourceVersion = 1;

  const emit = (type: 'ADDED' | 'MODIFIED' | 'DELETED', job: V1Job) => {
    for (const w of watchers) if (w.name === job.metadata!.name) w.res.write(`${JSON.stringify({ type, object: job })}\n`);
  };
  const setStatus = (run: Run, status: V1JobStatus) => {
    run.job.status = status;
    run.job.metadata!.resourceVersion = String(++resourceVersion);
    emit('MODIFIED', run.job);
  };

  /** The kubelet: one pod per Job, run to completion (restartPolicy Never, backoffLimit 0). */
  const runPod = (run: Run) => {
    kubelet.mutate?.(run.job);
    const pod = run.job.spec!.template.spec!;
    const c: V1Container = pod.containers[0]!;
    const env: Record<string, string> = { ...kubelet.image.env };
    for (const from of c.envFrom ?? []) {
      const data = from.configMapRef ? kubelet.configMaps[from.configMapRef.name!] : undefined;
      if (from.configMapRef && !data) throw new Error(`ConfigMap ${from.configMapRef.name} not found`);
      Object.assign(env, data);
    }
    for (const e of c.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef;
      if (!ref) env[e.name] = e.value ?? '';
      else if (kubelet.secrets?.[ref.name!]?.[ref.key] !== undefined) env[e.name] = kubelet.secrets[ref.name!]![ref.key]!;
      // As a kubelet: a missing optional secret leaves the variable unset; a required one fails the pod.
      else if (!ref.optional) throw new Error(`secret ${ref.name} (key ${ref.key}) not found`);
    }
    const paths = { ...kubelet.paths };
    for (const m of c.volumeMounts ?? []) {
      if (!paths[m.mountPath]) throw new Error(`no host folder for volume ${m.name} at ${m.mountPath}`);
    }
    for (const [k, v] of Object.entries(env)) env[k] = mapPath(v, paths);
    // A container's /tmp is its tmp volume.
    env.TMPDIR = mapPath('/tmp', paths);
    env.PATH = kubelet.binPath;
    // Kubernetes: command replaces the image's ENTRYPOINT/CMD, args follow it.
    const argv = [...(c.command?.length ? c.command : kubelet.image.cmd), ...(c.args ?? [])];
    const cwd = mapPath(c.workingDir ?? kubelet.image.workdir, paths);
    // Its own process group: the container's processes are signalled together, as a runtime does.
    const child = spawn(argv[0]!, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    run.process = child;
    child.stdout!.on('data', (d: Buffer) => (run.log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (run.log += d.toString()));
    const startTime = new Date().toISOString();
    setStatus(run, { active: 1, ready: 1, startTime });
    run.exit = new Promise((resolve) => {
      child.on('error', (err) => {
        run.log += `exec ${argv[0]}: ${err.message}\n`;
      });
      child.on('exit', (code) => {
        if (!jobs.has(run.job.metadata!.name!)) return resolve(code);
        const now = new Date().toISOString();
        setStatus(
          run,
          code === 0
            ? { succeeded: 1, startTime, completionTime: now, conditions: [{ type: 'Complete', status: 'True', lastTransitionTime: now }] }
            : { failed: 1, startTime, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', lastTransitionTime: now }] },
        );
        resolve(code);
      });
    });
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://kube');
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    const q = Object.fromEntries(url.searchParams);
    const ns = `/namespaces/${namespace}`;
    const jobsPath = `/apis/batch/v1${ns}/jobs`;
    void (async () => {
      if (req.method === 'POST' && url.pathname === jobsPath) {
        const job = (await body(req)) as V1Job;
        const name = job.metadata!.name!;
        if (jobs.has(name)) return json(res, 409, { kind: 'Status', status: 'Failure', reason: 'AlreadyExists', code: 409, message: `jobs.batch "${name}" already exists` });
        job.metadata!.uid = `uid-${name}`;
        job.metadata!.resourceVersion = String(++resourceVersion);
        job.status = {};
        const run: Run = { job, log: '' };
        jobs.set(name, run);
        json(res, 201, job);
        setTimeout(() => {
          try {
            runPod(run);
          } catch (err) {
            run.log += `${(err as Error).message}\n`;
            setStatus(run, { failed: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'CreateContainerConfigError' }] });
          }
        }, 50);
        return;
      }
      if (req.method === 'GET' && url.pathname === jobsPath) {
        if (q.watch === 'true') {
          const name = /metadata\.name=([^,]+)/.exec(q.fieldSelector ?? '')?.[1] ?? '';
          res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
          const run = jobs.get(name);
          if (run) res.write(`${JSON.stringify({ type: 'ADDED', object: run.job })}\n`);
          const w = { name, res };
          watchers.add(w);
          // API servers end watches after a while; the client must re-establish them.
          const timer = setTimeout(() => res.end(), 20_000);
          res.on('close', () => {
            clearTimeout(timer);
            watchers.delete(w);
          });
          return;
        }
        const items = [...jobs.values()].map((r) => r.job).filter((j) => matchesLabels(j, q.labelSelector));
        return json(res, 200, { apiVersion: 'batch/v1', kind: 'JobList', metadata: { resourceVersion: String(resourceVersion) }, items });
      }
      const jobMatch = new RegExp(`^${jobsPath}/([^/]+)$`).exec(url.pathname);
      if (jobMatch) {
        const run = jobs.get(jobMatch[1]!);
        if (!run) return notFound(res, `jobs.batch "${jobMatch[1]}"`);
        if (req.method === 'GET') return json(res, 200, run.job);
        if (req.method === 'DELETE') {
          await body(req);
          jobs.delete(jobMatch[1]!);
          deleted.push(`${jobMatch[1]}?propagationPolicy=${q.propagationPolicy ?? ''}`);
          signalPod(run, 'SIGTERM');
          emit('DELETED', run.job);
          return json(res, 200, { kind: 'Status', apiVersion: 'v1', status: 'Success' });
        }
      }
      if (req.method === 'GET' && url.pathname === `/api/v1${ns}/pods`) {
        const jobName = /job-name=([^,]+)/.exec(q.labelSelector ?? '')?.[1];
        const items = jobName && jobs.has(jobName) ? [{ metadata: { name: `${jobName}-pod`, labels: { 'job-name': jobName } } }] : [];
        return json(res, 200, { apiVersion: 'v1', kind: 'PodList', metadata: {}, items });
      }
      const logMatch = new RegExp(`^/api/v1${ns}/pods/([^/]+)-pod/log$`).exec(url.pathname);
      if (req.method === 'GET' && logMatch) {
        const run = jobs.get(logMatch[1]!);
        if (!run) return notFound(res, 'pod');
        const lines = run.log.split('\n');
        const tail = q.tailLines ? lines.slice(-Number(q.tailLines) - 1) : lines;
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end(tail.join('\n'));
      }
      const podMatch = new RegExp(`^/api/v1${ns}/pods/([^/]+)$`).exec(url.pathname);
      if (req.method === 'GET' && podMatch) {
        return json(res, 200, { apiVersion: 'v1', kind: 'Pod', metadata: { name: podMatch[1], namespace }, spec: { containers: [{ name: 'finetune', image: 'registry.test/nst/finetune:1.0.0' }] } });
      }
      const cmMatch = new RegExp(`^/api/v1${ns}/configmaps/([^/]+)$`).exec(url.pathname);
      if (req.method === 'GET' && cmMatch) {
        const data = kubelet.configMaps[cmMatch[1]!];
        if (!data) return notFound(res, 'configmap');
        return json(res, 200, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: cmMatch[1], namespace }, data });
      }
      return notFound(res, url.pathname);
    })().catch((err: Error) => json(res, 500, { kind: 'Status', code: 500, message: err.message }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    namespace,
    jobs,
    requests,
    deleted,
    kubelet,
    kubeconfig: () =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        // client-node refuses plain http unless TLS verification is explicitly off.
        clusters: [{ name: 'test', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'finetune', user: { token: 'sa-token' } }],
        contexts: [{ name: 'test', context: { cluster: 'test', user: 'finetune', namespace } }],
        'current-context': 'test',
      }),
    close: async () => {
      for (const r of jobs.values()) signalPod(r, 'SIGKILL');
      await Promise.all([...jobs.values()].map((r) => r.exit));
      for (const w of watchers) w.res.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
