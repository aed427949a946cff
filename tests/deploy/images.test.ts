/**
 * What docker/node.Dockerfile does, done here without a Docker engine: `pnpm deploy --prod` of one
 * service into an empty folder (the image's /app), then the service started from that folder
 * alone with tsx, as the image's CMD does, answering /health; and models-pull run from the
 * inference layout as the compose/Kubernetes seeding job does. Hadolint is not available from
 * the registries this project reaches, so the Dockerfile's content is checked in consistency.test.ts.
 */
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rel, runOk } from './tools.ts';
import { freePort } from '../../scripts/lib/stack.ts';

const tsx = rel('node_modules/.bin/tsx');
const work: string[] = [];
afterAll(async () => {
  for (const d of work) await rm(d, { recursive: true, force: true });
});


/** `pnpm --filter @nst/<service> deploy --prod <dir>` plus the models-pull script where the networks are, as the image's deps stage. */
async function deploy(service: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), `nst-image-${service}-`));
  work.push(dir);
  const app = path.join(dir, 'app');
  await runOk('pnpm', ['--filter', `@nst/${service}`, 'deploy', '--prod', '--prefer-offline', app], { timeoutMs: 170_000 });
  if (existsSync(path.join(app, 'node_modules/@nst/network'))) {
    await mkdir(path.join(app, 'scripts'), { recursive: true });
    await cp(rel('scripts/models-pull.ts'), path.join(app, 'scripts/models-pull.ts'));
  }
  return app;
}

/** Package folders under the deployed node_modules/.pnpm whose names start with one of these. */
async function installedMatching(app: string, prefixes: string[]): Promise<string[]> {
  return (await readdir(path.join(app, 'node_modules/.pnpm'))).filter((p) => prefixes.some((x) => p.startsWith(x)));
}
const RUNTIMES = ['onnxruntime-', '@tensorflow+'];

async function startAndProbe(cwd: string, env: Record<string, string>, port: number): Promise<{ status: number; body: unknown; logs: string }> {
  const child = spawn(tsx, ['src/main.ts'], { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  child.stdout.on('data', (d) => (logs += d));
  child.stderr.on('data', (d) => (logs += d));
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`service exited ${child.exitCode}\n${logs}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) });
        return { status: res.status, body: await res.json(), logs };
      } catch {
        if (Date.now() > deadline) throw new Error(`no /health answer\n${logs}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
  }
}

describe('one service per image: pnpm deploy --prod, then run from that folder alone', () => {
  it('inference: production dependencies only, starts with tsx and answers /health; models-pull seeds a store', async () => {
    const app = await deploy('inference');
    const pkg = JSON.parse(await readFile(path.join(app, 'package.json'), 'utf8')) as { name: string };
    expect(pkg.name).toBe('@nst/inference');
    const installed = await readdir(path.join(app, 'node_modules/.pnpm'));
    for (const dev of ['vitest', 'eslint', 'typescript@', 'esbuild', 'playwright-core']) expect(installed.some((p) => p.startsWith(dev)), `${dev} must not be in the image`).toBe(false);
    expect(existsSync(path.join(app, 'node_modules/@nst/common/src/index.ts'))).toBe(true);
    expect(await installedMatching(app, ['onnxruntime-node@'])).toHaveLength(1);
    expect(await installedMatching(app, ['@tensorflow+'])).toEqual([]);

    const storage = path.join(path.dirname(app), 'store');
    const port = await freePort();
    const r = await startAndProbe(app, { NST_STORAGE_DIR: storage, NST_HOST: '127.0.0.1', NST_MODEL: 'model1', NST_INFERENCE_PORT: String(port), NST_ORT_THREADS: '1' }, port);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'ok', service: 'inference-model1' });
    expect(r.logs).toMatch(/"ecs.version"/);

    const mirror = process.env.NST_DATA_MIRROR;
    if (!mirror) throw new Error('this test needs NST_DATA_MIRROR (CI sets it to ../shared/data)');
    await runOk(tsx, ['scripts/models-pull.ts'], { cwd: app, env: { NST_STORAGE_DIR: storage, NST_DATA_MIRROR: mirror, NST_MODELS: 'model1=wave' }, timeoutMs: 170_000 });
    expect((await readFile(path.join(storage, 'models/model1/latest.txt'), 'utf8')).trim()).toBe('model1_v1');
  });

  it('gateway: neither onnxruntime nor TF.js, starts from its own folder and answers /health', async () => {
    const app = await deploy('gateway');
    expect(await installedMatching(app, RUNTIMES)).toEqual([]);
    expect(existsSync(path.join(app, 'node_modules/@nst/network'))).toBe(false);
    const port = await freePort();
    const storage = path.join(path.dirname(app), 'store');
    const r = await startAndProbe(app, { NST_STORAGE_DIR: storage, NST_HOST: '127.0.0.1', NST_GATEWAY_PORT: String(port), NST_SERVE_FRONTEND: 'false', NST_ADMIN_TOKEN: 'image-test-token-0123456789' }, port);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'ok', service: 'gateway' });
  });

  it.skipIf(!existsSync(rel('services/finetune/src/main.ts')))('finetune: starts from its own folder and answers /health', async () => {
    const app = await deploy('finetune');
    const port = await freePort();
    const storage = path.join(path.dirname(app), 'store');
    const r = await startAndProbe(app, { NST_STORAGE_DIR: storage, NST_HOST: '127.0.0.1', NST_FINETUNE_PORT: String(port), NST_ADMIN_TOKEN: 'image-test-token-0123456789' }, port);
    expect(r.status).toBe(200);
  });
});
