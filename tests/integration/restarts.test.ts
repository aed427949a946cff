/**
 * Restarts lose no request: a steady stylise load runs while a gateway replica and then one
 * of the model's two inference processes are stopped (SIGTERM) and started again. Zero
 * failed requests.
 *
 * The load client plays the load balancer in front of the gateways: it sends to the
 * replicas in its target list, and takes a replica out of the list the moment it is told to
 * stop, as a Kubernetes Service drops a terminating pod's endpoint. Requests already in
 * flight on that replica must still finish (the drain). In front of the inference services
 * the gateway itself balances (NST_INFERENCE_URLS with two URLs), retrying once elsewhere.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stylize } from '../support/http.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { contentPhoto, startTestStack, type TestStack } from '../support/stack.ts';

let pgServer: TestPostgres;
let s: TestStack;
let photo: Buffer;

beforeAll(async () => {
  pgServer = await startPostgres();
  s = await startTestStack({
    models: ['model1=wave'],
    gateways: 2,
    inferenceReplicas: { model1: 2 },
    env: { NST_DATABASE_URL: await pgServer.createDatabase(), NST_SHUTDOWN_GRACE_MS: '15000', NST_RATE_LIMIT_STYLIZE: '0' },
  });
  photo = await readFile(await contentPhoto(5));
});
afterAll(async () => {
  await s?.stop();
  await pgServer?.stop();
});

async function waitReady(url: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await fetch(`${url}/ready`).then((r) => r.ok, () => false))) {
    if (Date.now() > deadline) throw new Error(`${url} not ready again`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('rolling restarts under load', () => {
  it('restarts a gateway replica and an inference process without a failed request', async () => {
    const targets = [...s.gatewayUrls];
    const inFlight = new Map<string, number>(targets.map((t) => [t, 0]));
    const failures: string[] = [];
    let ok = 0;
    let finishedDuringDrain = 0;
    let draining: string | null = null;
    let running = true;
    let turn = 0;

    const worker = async () => {
      while (running) {
        const target = targets[turn++ % targets.length]!;
        inFlight.set(target, inFlight.get(target)! + 1);
        try {
          const r = await stylize(target, { image: photo, model: 'model1', max_size: '160' }, { 'x-client-id': `load-${turn % 7}` });
          if (r.status === 200) ok++;
          else failures.push(`${target}: ${r.status} ${JSON.stringify(r.body)}`);
          if (target === draining) finishedDuringDrain++;
        } catch (err) {
          failures.push(`${target}: ${(err as Error).message}`);
        } finally {
          inFlight.set(target, inFlight.get(target)! - 1);
        }
      }
    };
    const load = Promise.all(Array.from({ length: 4 }, worker));
    const until = async (cond: () => boolean, ms: number) => {
      const deadline = Date.now() + ms;
      while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    };

    try {
      await new Promise((r) => setTimeout(r, 1_500));

      // Gateway replica 2: out of the balancer with requests still in flight on it, SIGTERM, start again.
      const gw = s.stack.services.find((x) => x.name === 'gateway-2')!;
      await until(() => inFlight.get(gw.url)! > 0, 5_000);
      expect(inFlight.get(gw.url)).toBeGreaterThan(0);
      draining = gw.url;
      targets.splice(targets.indexOf(gw.url), 1);
      expect(await s.stack.stopOne(gw.name, 20_000)).toBe(0); // drained within its grace period
      draining = null;
      s.stack.startOne(gw, 'ignore');
      await waitReady(gw.url);
      targets.push(gw.url);
      await new Promise((r) => setTimeout(r, 1_000));

      // Inference process 2 of model1: the gateways keep sending to both until it stops.
      const inf = s.stack.services.find((x) => x.name === 'inference-model1-2')!;
      expect(await s.stack.stopOne(inf.name, 20_000)).toBe(0);
      await new Promise((r) => setTimeout(r, 1_000)); // load on one inference process only
      s.stack.startOne(inf, 'ignore');
      await waitReady(inf.url);
      await new Promise((r) => setTimeout(r, 1_500)); // and back on both
    } finally {
      running = false;
      await load;
    }

    expect(failures).toEqual([]);
    expect(finishedDuringDrain).toBeGreaterThan(0);
    expect(ok).toBeGreaterThan(20);
  });
});
