/**
 * The graceful stop every service shares, in a real child process: on SIGTERM requests in
 * flight finish, new connections are refused, and the process exits 0; past the grace period
 * (NST_SHUTDOWN_GRACE_MS) it exits 1 anyway.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../../scripts/lib/stack.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const entry = fileURLToPath(new URL('./support/drainingService.ts', import.meta.url));

async function startService(env: Record<string, string> = {}) {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', entry, String(port)], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (!(await fetch(`${url}/health`).then((r) => r.ok, () => false))) {
    if (Date.now() > deadline) throw new Error(`service did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, url, exited, log: () => out };
}

describe('graceful stop on SIGTERM', () => {
  it('finishes the requests in flight, refuses new connections, exits 0', async () => {
    const s = await startService();
    const inFlight = [1, 2, 3].map(() => fetch(`${s.url}/slow?ms=800`).then(async (r) => [r.status, await r.json()] as const));
    await new Promise((r) => setTimeout(r, 200));
    const stoppedAt = Date.now();
    s.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    await expect(fetch(`${s.url}/health`)).rejects.toThrow();
    expect(await Promise.all(inFlight)).toEqual([1, 2, 3].map(() => [200, { done: true }]));
    expect(await s.exited).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);
    expect(s.log()).toMatch(/shutting down: finishing requests in flight/);
  });

  it('exits 1 once the grace period is over', async () => {
    const s = await startService({ NST_SHUTDOWN_GRACE_MS: '500' });
    const stuck = fetch(`${s.url}/slow?ms=10000`).catch((err: Error) => err);
    await new Promise((r) => setTimeout(r, 200));
    const stoppedAt = Date.now();
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(1);
    expect(Date.now() - stoppedAt).toBeLessThan(4_000);
    expect(await stuck).toBeInstanceOf(Error);
    expect(s.log()).toMatch(/grace period over/);
  });
});
