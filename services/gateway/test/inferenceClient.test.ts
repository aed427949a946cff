/**
 * The gateway's inference client against real loopback servers built like the platform's
 * services: several replicas per model (`a|b`), one retry on another replica after a refused
 * connection or a 503 from a stopping or busy replica, and the replica list in the config.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpError, createService } from '@nst/common';
import { loadGatewayConfig } from '../src/config.ts';
import { InferenceClient } from '../src/inferenceClient.ts';
import { freePort } from '../../../scripts/lib/stack.ts';

const apps: FastifyInstance[] = [];
let healthy: string;
let draining: string;
let busy: string;
let closed: string;
const served: string[] = [];

async function replica(name: string, answer: 'ok' | 'busy'): Promise<string> {
  const app = createService({ service: name, logLevel: 'silent' });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.post('/infer', async (_req, reply) => {
    served.push(name);
    if (answer === 'busy') throw new HttpError(503, `${name} is busy`, { 'retry-after': '1' });
    return reply.headers({ 'x-model-version': 'm_v1', 'x-image-width': '1', 'x-image-height': '1' }).type('image/png').send(Buffer.from([1, 2, 3]));
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  apps.push(app);
  return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
}

beforeAll(async () => {
  healthy = await replica('healthy', 'ok');
  draining = await replica('draining', 'ok');
  apps.at(-1)!.draining = true; // as after SIGTERM, before it has closed
  busy = await replica('busy', 'busy');
  closed = `http://127.0.0.1:${await freePort()}`;
});
afterAll(() => Promise.all(apps.map((a) => a.close())));

const infer = (urls: string) => new InferenceClient({ m: urls }, 5_000).infer({ model: 'm', version: 'm_v1', image: new Uint8Array([9]), format: 'png', requestId: 'r', controls: { strength: 1, preserveColors: false } });

describe('inference client with several replicas', () => {
  it('retries once elsewhere after a refused connection or a stopping replica', async () => {
    served.length = 0;
    expect((await infer(`${closed}|${healthy}`)).image).toEqual(Buffer.from([1, 2, 3]));
    expect((await infer(`${draining}|${healthy}`)).version).toBe('m_v1');
    expect(served).toEqual(['healthy', 'healthy']);
  });

  it('tries another replica when one is busy, and passes a lone busy answer on', async () => {
    served.length = 0;
    expect((await infer(`${busy}|${healthy}`)).version).toBe('m_v1');
    expect(served).toEqual(['busy', 'healthy']);
    await expect(infer(busy)).rejects.toMatchObject({ statusCode: 503, headers: { 'retry-after': '1' } });
  });

  it('answers 503 naming the model when no replica can take it', async () => {
    await expect(infer(`${closed}|${draining}`)).rejects.toMatchObject({ statusCode: 503, message: expect.stringMatching(/model m is not reachable/) });
    await expect(infer(closed)).rejects.toMatchObject({ statusCode: 503 });
  });

  it('alternates between replicas', async () => {
    const other = await replica('other', 'ok');
    const client = new InferenceClient({ m: `${healthy}|${other}` }, 5_000);
    served.length = 0;
    for (let i = 0; i < 4; i++) await client.infer({ model: 'm', version: 'm_v1', image: new Uint8Array([9]), format: 'png', requestId: `r${i}`, controls: { strength: 1, preserveColors: false } });
    expect(served.sort()).toEqual(['healthy', 'healthy', 'other', 'other']);
    expect(await client.ready('m')).toMatchObject({ ready: false, replicas: 0 }); // these stand-ins have no /ready
    await client.close();
  });
});

describe('NST_INFERENCE_URLS', () => {
  it('takes several replicas per model separated by |', () => {
    const c = loadGatewayConfig({ NST_MODELS: 'model1=wave,model2=udnie', NST_INFERENCE_URLS: 'model1=http://a:8001/|http://b:8001, model2=http://c:8002', NST_ADMIN_TOKEN: 'x'.repeat(32) });
    expect(c.inferenceUrls).toEqual({ model1: 'http://a:8001|http://b:8001', model2: 'http://c:8002' });
    expect(() => loadGatewayConfig({ NST_MODELS: 'model1=wave', NST_INFERENCE_URLS: 'model1=http://a:8001|nonsense' })).toThrow(/several separated by \|/);
  });
});
