/**
 * `pnpm start`'s stack (scripts/start-local.ts, run for real) with six models: the ports are
 * chosen so that the old scheme (inference port = first + index) would have put the fifth
 * model on fine-tuning's port. Every service must come up and every model must stylise.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { smokeTest } from '../../scripts/pipeline/smoke-test.ts';
import { localInferencePorts } from '@nst/common/localPorts';
import { ROOT } from '../../scripts/lib/stack.ts';
import { dataMirror } from '../support/stack.ts';

const MODELS = 'model1=wave,model2=udnie,model3=scream,model4=rain_princess,model5=la_muse,model6=wreck';

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });

/** A block of 10 free loopback ports (bounded search). */
async function freeBlock(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    const free = await Promise.all(Array.from({ length: 10 }, (_, i) => portFree(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no block of 10 free ports');
}

describe('local stack with six models', () => {
  let child: ChildProcess | undefined;
  let storage: string;
  let gatewayUrl: string;
  let ports: { first: number; finetune: number; gateway: number };
  let log = '';

  beforeAll(async () => {
    storage = await mkdtemp(path.join(tmpdir(), 'nst-six-'));
    const base = await freeBlock();
    ports = { first: base, finetune: base + 4, gateway: base + 9 };
    gatewayUrl = `http://127.0.0.1:${ports.gateway}`;
    child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start-local.ts'], {
      cwd: ROOT,
      // Its own process group, so a failed run can still be stopped as a whole.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        NST_STORAGE_DIR: storage,
        NST_MODELS: MODELS,
        NST_GATEWAY_PORT: String(ports.gateway),
        NST_FINETUNE_PORT: String(ports.finetune),
        NST_INFERENCE_BASE_PORT: String(ports.first),
        NST_SERVE_FRONTEND: 'false',
        NST_ORT_THREADS: '1',
        ...(dataMirror() ? { NST_DATA_MIRROR: dataMirror()! } : {}),
      },
    });
    child.stdout!.on('data', (d) => (log += d));
    child.stderr!.on('data', (d) => (log += d));
    const deadline = Date.now() + 240_000;
    while (!log.includes('NST platform ready')) {
      if (child.exitCode !== null) throw new Error(`start-local exited ${child.exitCode}:\n${log.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`not ready in time:\n${log.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }, 300_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGINT');
      const timer = setTimeout(() => process.kill(-child!.pid!, 'SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    if (storage) await rm(storage, { recursive: true, force: true });
  }, 60_000);

  it('runs every service on a port of its own', async () => {
    const health = async (port: number) => ((await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { service: string }).service;
    expect(await health(ports.finetune)).toBe('finetune');
    expect(await health(ports.gateway)).toBe('gateway');
    const inference = localInferencePorts(6, { first: ports.first, taken: [ports.gateway, ports.finetune] });
    expect(inference).not.toContain(ports.finetune);
    for (const [i, port] of inference.entries()) expect(await health(port)).toBe(`inference-model${i + 1}`);
  });

  it('serves every one of the six models through the gateway, and stays up', async () => {
    const listed = (await (await fetch(`${gatewayUrl}/api/models`)).json()) as { models: { name: string }[] };
    expect(listed.models.map((m) => m.name)).toEqual(['model1', 'model2', 'model3', 'model4', 'model5', 'model6']);
    for (const m of listed.models) {
      const r = await smokeTest({ baseUrl: gatewayUrl, model: m.name, log: () => undefined });
      expect(r.version).toBe(`${m.name}_v1`);
    }
    expect(child!.exitCode).toBeNull();
    expect(log).not.toMatch(/EADDRINUSE/);
  });
});
