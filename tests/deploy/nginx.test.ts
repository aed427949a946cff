/**
 * docker/nginx.conf served by a real nginx (Debian's) on loopback, exactly as the frontend image
 * includes it, with two substitutions only: the listen address (a free loopback port) and the
 * upstream (a small HTTP server standing in for the gateway on a free port). Checks the UI,
 * /health, gzip, caching and security headers, the upload limit and the /api/ proxy.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createService } from '@nst/common';
import { startNginx, type RunningNginx } from './nginxHarness.ts';

describe("docker/nginx.conf in a real nginx (Debian's)", () => {
  let dir: string;
  let nginx: RunningNginx;
  let base: string;
  const gateway = createService({ service: 'gateway-stand-in', logLevel: 'silent', bodyLimit: 64 * 1024 * 1024 });
  const seen: { url: string; requestId?: string; forwardedFor?: string }[] = [];

  beforeAll(async () => {
    gateway.get('/api/models', async (req) => {
      seen.push({ url: req.url, requestId: req.headers['x-request-id'] as string, forwardedFor: req.headers['x-forwarded-for'] as string });
      return { models: [{ name: 'model1' }] };
    });
    gateway.get<{ Params: { name: string } }>('/api/images/outputs/:name', async (req, reply) => reply.type('image/png').header('cache-control', 'private').send(Buffer.from(`png ${req.params.name}`)));
    gateway.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: 64 * 1024 * 1024 }, (_req, body, done) => done(null, body));
    gateway.post<{ Body: Buffer }>('/api/stylize', async (req) => ({ bytes: req.body.length }));
    await gateway.listen({ host: '127.0.0.1', port: 0 });
    const gwPort = (gateway.server.address() as { port: number }).port;

    dir = await mkdtemp(path.join(tmpdir(), 'nst-nginx-html-'));
    const html = path.join(dir, 'html');
    await mkdir(html);
    await writeFile(path.join(html, 'index.html'), '<!doctype html><title>NST</title><script src="/app-4V33SXRX.js"></script>');
    await writeFile(path.join(html, 'app-4V33SXRX.js'), `// ${'stylise '.repeat(800)}\nconsole.log('nst');\n`);
    await writeFile(path.join(html, 'logo.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    nginx = await startNginx({ root: html, gatewayPort: gwPort });
    base = nginx.url;
  });

  afterAll(async () => {
    await nginx?.stop();
    await gateway.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  it('answers its own /health', async () => {
    const res = await fetch(`${base}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', service: 'frontend' });
  });

  it('serves the app shell uncached, with security headers', async () => {
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<title>NST</title>');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(res.headers.get('referrer-policy')).toBeTruthy();
    expect(res.headers.get('server')).toBe('nginx');
    // Client-side routes fall back to the app shell.
    expect((await fetch(`${base}/some/ui/route`)).status).toBe(200);
  });

  it('caches content-hashed assets for good, revalidates the others, and gzips them', async () => {
    const res = await fetch(`${base}/app-4V33SXRX.js`, { headers: { 'accept-encoding': 'gzip' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-encoding')).toBe('gzip');
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await fetch(`${base}/logo.svg`)).headers.get('cache-control')).toBe('no-cache');
    expect((await fetch(`${base}/app-MISSING1.js`)).status).toBe(404);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await res.text()).toContain("console.log('nst')");
  });

  it('proxies /api/ to the gateway, passing the request id through', async () => {
    const res = await fetch(`${base}/api/models`, { headers: { 'x-request-id': 'ui-req-1' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ models: [{ name: 'model1' }] });
    expect(seen.at(-1)).toMatchObject({ url: '/api/models', requestId: 'ui-req-1', forwardedFor: '127.0.0.1' });
    await fetch(`${base}/api/models`);
    expect(seen.at(-1)!.requestId).toMatch(/^[0-9a-f]{32}$/); // nginx made one
  });

  it('sends API paths that look like assets (.png, .jpg) to the gateway, not to the asset folder', async () => {
    const res = await fetch(`${base}/api/images/outputs/abc.png`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('png abc.png');
    expect(res.headers.get('cache-control')).toBe('private'); // the gateway's, not the asset rule's
  });

  it("accepts uploads up to the gateway's 25 MiB and refuses larger ones with 413", async () => {
    const ok = await fetch(`${base}/api/stylize`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(20 * 1024 * 1024) });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ bytes: 20 * 1024 * 1024 });
    const big = await fetch(`${base}/api/stylize`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(26 * 1024 * 1024) });
    expect(big.status).toBe(413);
  });
});
