/**
 * Shared helpers for the offline deployment checks: run a real tool (failing clearly when it is
 * missing: scripts/setup.sh --test-tools installs them), render kustomizations, read YAML streams.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const rel = (...p: string[]) => path.join(ROOT, ...p);
export const readText = (...p: string[]) => readFileSync(rel(...p), 'utf8');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; never throws for a non-zero exit (the result says), throws when the tool is missing. */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(new Error(`${cmd} is not installed: run scripts/setup.sh --test-tools (it installs the deployment check tools)`));
          return;
        }
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** Runs and expects exit 0; the error shows the tool's own output. */
export async function runOk(cmd: string, args: string[], opts?: Parameters<typeof run>[2]): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

let kustomizeCmd: Promise<string[]> | undefined;
/** `kustomize build`, or kubectl's built-in kustomize (`kubectl kustomize`). */
async function kustomizeCommand(): Promise<string[]> {
  kustomizeCmd ??= (async () => {
    const k = await run('kustomize', ['version']).catch(() => null);
    if (k && k.code === 0) return ['kustomize', 'build'];
    const kc = await run('kubectl', ['version', '--client']).catch(() => null);
    if (kc && kc.code === 0) return ['kubectl', 'kustomize'];
    throw new Error('neither kustomize nor kubectl is installed (kubectl comes with this machine image; kustomize is an alternative)');
  })();
  return kustomizeCmd;
}

export async function kustomizeVersion(): Promise<string> {
  const [cmd] = await kustomizeCommand();
  const r = cmd === 'kustomize' ? await runOk('kustomize', ['version']) : await runOk('kubectl', ['version', '--client']);
  return r.stdout.trim().replace(/\n/g, '; ');
}

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [k: string]: unknown };

export function parseYamlStream(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw new Error(`YAML error: ${d.errors.map((e) => e.message).join('; ')}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

const rendered = new Map<string, Promise<K8sObject[]>>();
/** The objects a kustomization renders to (k8s/base, k8s/overlays/staging, …). */
export function kustomize(dir: string): Promise<K8sObject[]> {
  let p = rendered.get(dir);
  if (!p) {
    p = (async () => {
      const [cmd, ...sub] = await kustomizeCommand();
      const r = await runOk(cmd!, [...sub, rel(dir)]);
      return parseYamlStream(r.stdout);
    })();
    rendered.set(dir, p);
  }
  return p;
}

export const byKind = (objs: K8sObject[], kind: string) => objs.filter((o) => o.kind === kind);
export const find = (objs: K8sObject[], kind: string, name: string) => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
};

const k8sModels = new Map<string, Promise<Record<string, new (data: unknown) => { validate(): void }>>>();
async function modelFor(apiVersion: string, kind: string) {
  let m = k8sModels.get(apiVersion);
  if (!m) {
    m = import(/* @vite-ignore */ `kubernetes-models/${apiVersion}`) as Promise<Record<string, new (data: unknown) => { validate(): void }>>;
    k8sModels.set(apiVersion, m);
  }
  const Model = (await m)[kind];
  if (!Model) throw new Error(`kubernetes-models has no ${apiVersion} ${kind}`);
  return Model;
}

/** Throws with the schema's own message when the object is not a valid Kubernetes object. */
export async function validateK8s(obj: K8sObject): Promise<void> {
  const Model = await modelFor(obj.apiVersion, obj.kind);
  try {
    new Model(obj).validate();
  } catch (err) {
    throw new Error(`${obj.kind}/${obj.metadata?.name}: ${(err as Error).message}`);
  }
}

