/**
 * The fine-tuning service as its own process (`tsx src/main.ts`, as the image starts it), so a
 * test can stop it with a signal, or kill it, and start it again on the same store.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../scripts/lib/stack.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface FinetuneProcess {
  url: string;
  child: ChildProcess;
  /** Its log lines, parsed (ECS JSON). */
  logs: Array<Record<string, unknown> & { message: string }>;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startFinetuneProcess(env: Record<string, string>): Promise<FinetuneProcess> {
  const port = await freePort();
  // One process (node with tsx's loader), so a signal reaches the service itself.
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: path.join(ROOT, 'services/finetune'),
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NST_HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env, NST_FINETUNE_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: FinetuneProcess['logs'] = [];
  let pending = '';
  const onData = (d: Buffer) => {
    pending += d.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const l of lines) {
      try {
        logs.push(JSON.parse(l) as FinetuneProcess['logs'][number]);
      } catch {
        logs.push({ message: l });
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (child.exitCode !== null || Date.now() > until) throw new Error(`the fine-tuning service did not start:\n${logs.map((l) => l.message).join('\n')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    child,
    logs,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export function adminApi(url: string, token: string) {
  return async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${url}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
}

export async function waitUntil<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 180_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
