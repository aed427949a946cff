/**
 * Starts the platform's processes without containers: one inference service per model,
 * the gateway, and the fine-tuning service when it exists. Used by `pnpm start` and by
 * the integration tests (which pass free ports and a temporary store).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ServiceProcess {
  name: string;
  entry: string;
  env: Record<string, string>;
  url: string;
}

export interface StackOptions {
  storageDir: string;
  models: { name: string; style: string }[];
  gatewayPort: number;
  inferencePorts: number[];
  finetunePort?: number;
  /** Further inference processes per model (their ports): the gateway alternates between all of a model's. */
  extraInferencePorts?: Record<string, number[]>;
  /** Further gateway processes on the same store (their ports), named gateway-2, gateway-3, … */
  extraGatewayPorts?: number[];
  host?: string;
  /** Extra environment for every process. */
  env?: Record<string, string>;
  /** 'inherit' shows logs on this console; 'ignore' drops them; a function gets each line. */
  logs?: 'inherit' | 'ignore' | ((service: string, line: string) => void);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export function stackServices(o: StackOptions): ServiceProcess[] {
  const host = o.host ?? '127.0.0.1';
  const modelsEnv = o.models.map((m) => `${m.name}=${m.style}`).join(',');
  const portsOf = (m: { name: string }, i: number) => [o.inferencePorts[i]!, ...(o.extraInferencePorts?.[m.name] ?? [])];
  const inferenceUrls = o.models.map((m, i) => `${m.name}=${portsOf(m, i).map((p) => `http://${host}:${p}`).join('|')}`).join(',');
  const base = { ...o.env, NST_STORAGE_DIR: o.storageDir, NST_MODELS: modelsEnv, NST_HOST: host };
  const services: ServiceProcess[] = o.models.flatMap((m, i) =>
    portsOf(m, i).map((port, r) => ({
      name: r === 0 ? `inference-${m.name}` : `inference-${m.name}-${r + 1}`,
      entry: 'services/inference/src/main.ts',
      env: { ...base, NST_MODEL: m.name, NST_INFERENCE_PORT: String(port) },
      url: `http://${host}:${port}`,
    })),
  );
  if (o.finetunePort && existsSync(path.join(ROOT, 'services/finetune/src/main.ts'))) {
    services.push({ name: 'finetune', entry: 'services/finetune/src/main.ts', env: { ...base, NST_FINETUNE_PORT: String(o.finetunePort) }, url: `http://${host}:${o.finetunePort}` });
  }
  [o.gatewayPort, ...(o.extraGatewayPorts ?? [])].forEach((port, r) =>
    services.push({
      name: r === 0 ? 'gateway' : `gateway-${r + 1}`,
      entry: 'services/gateway/src/main.ts',
      env: {
        ...base,
        NST_GATEWAY_PORT: String(port),
        NST_INFERENCE_URLS: inferenceUrls,
        ...(o.finetunePort ? { NST_FINETUNE_URL: `http://${host}:${o.finetunePort}` } : {}),
      },
      url: `http://${host}:${port}`,
    }),
  );
  return services;
}

/**
 * Restarting a service that exits on its own, like compose's restart policy: after
 * minDelayMs, doubling per quick crash up to maxDelayMs; a run that lasted stableMs
 * resets the delay.
 */
export interface RestartPolicy {
  minDelayMs: number;
  maxDelayMs: number;
  stableMs: number;
}
export const DEFAULT_RESTART: RestartPolicy = { minDelayMs: 500, maxDelayMs: 30_000, stableMs: 30_000 };

export class RunningStack {
  private readonly children = new Map<string, ChildProcess>();
  private readonly crashes = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopping = false;
  /** Called when a service exits on its own (without a restart policy, or before a restart). */
  onExit: (service: string, code: number | null, signal: NodeJS.Signals | null) => void = () => undefined;
  /** Called when a crashed service is about to be started again. */
  onRestart: (service: string, delayMs: number, restarts: number) => void = () => undefined;

  constructor(
    readonly services: ServiceProcess[],
    private readonly restart: RestartPolicy | null = null,
  ) {}

  start(logs: StackOptions['logs'] = 'inherit'): void {
    for (const s of this.services) this.startOne(s, logs);
  }

  startOne(s: ServiceProcess, logs: StackOptions['logs'] = 'inherit'): ChildProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', s.entry], {
      cwd: ROOT,
      env: { ...process.env, ...s.env },
      stdio: ['ignore', logs === 'inherit' ? 'inherit' : 'pipe', logs === 'inherit' ? 'inherit' : 'pipe'],
    });
    if (typeof logs === 'function') {
      let buf = '';
      const onData = (d: Buffer) => {
        buf += d.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          logs(s.name, buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
    } else if (logs === 'ignore') {
      child.stdout!.resume();
      child.stderr!.resume();
    }
    const startedAt = Date.now();
    child.on('exit', (code, signal) => {
      this.children.delete(s.name);
      if (this.stopping) return;
      this.onExit(s.name, code, signal);
      if (!this.restart) return;
      const quick = Date.now() - startedAt < this.restart.stableMs;
      const n = quick ? (this.crashes.get(s.name) ?? 0) + 1 : 1;
      this.crashes.set(s.name, n);
      const delay = Math.min(this.restart.maxDelayMs, this.restart.minDelayMs * 2 ** (n - 1));
      this.onRestart(s.name, delay, n);
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (!this.stopping) this.startOne(s, logs);
      }, delay);
      this.timers.add(timer);
    });
    this.children.set(s.name, child);
    return child;
  }

  pid(name: string): number | undefined {
    return this.children.get(name)?.pid;
  }

  /** Stops one service (SIGTERM, then SIGKILL after a grace period); resolves to its exit code. */
  async stopOne(name: string, graceMs = 5000): Promise<number | null> {
    const child = this.children.get(name);
    if (!child || child.exitCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearTimeout(t);
    await Promise.all([...this.children.keys()].map((n) => this.stopOne(n)));
  }

  /** Polls each service's /ready until all answer 200. */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const s of this.services) {
      for (;;) {
        const ok = await fetch(`${s.url}/ready`, { signal: AbortSignal.timeout(2000) }).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) break;
        if (Date.now() > deadline) throw new Error(`${s.name} not ready at ${s.url} after ${timeoutMs} ms`);
        if (!this.restart && !this.children.has(s.name)) throw new Error(`${s.name} exited before it was ready`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
}
