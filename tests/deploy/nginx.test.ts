/**
 * docker/nginx.conf served by a real nginx (Debian's) on loopback, exactly as the frontend image
 * includes it, with two substitutions only: the listen address (a free loopback port) and the
 * upstream (a small HTTP server standing in for the gateway on a free port). Checks the UI,
 * /health, gzip, caching and security headers, the upload limit and the /api/ proxy.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createService } from '@nst/common';
import { readText, run } from './tools.ts';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

describe("docker/nginx.conf in a real nginx (Debian's)", () => {
  let dir: string;
  let nginx: ChildProcess | undefined;
  let base: string;
  const gateway = createService({ service: 'gateway-stand-in', logLevel: 'silent', bodyLimit: 64 * 1024 * 1024 });
  const seen: { url: string; requestId?: string; forwardedFor?: string }[] = [];
  let nginxLog = '';

  beforeAll(async () => {
    gateway.get('/api/models', async (req) => {
      seen.push({ url: req.url, requestId: req.headers['x-request-id'] as string, forwardedFor: req.headers['x-forwarded-for'] as string });
      return { models: [{ name: 'model1' }] };
    });
    gateway.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: 64 * 1024 * 1024 }, (_req, body, done) => done(null, body));
    gateway.post('/api/stylize', async (req) => ({ bytes: (req.body as Buffer).length }));
    await gateway.listen({ host: '127.0.0.1', port: 0 });
    const gwPort = (gateway.server.address() as { port: number }).port;

    dir = await mkdtemp(path.join(tmpdir(), 'nst-nginx-'));
    const html = path.join(dir, 'html');
    await mkdir(html);
    await writeFile(path.join(html, 'index.html'), '<!doctype html><title>NST</title><script src="/app.js"></script>');
    await writeFile(path.join(html, 'app.js'), `// ${'stylise '.repeat(800)}\nconsole.log('nst');\n`);
    const port = await freePort();
    const server = readText('docker/nginx.conf')
      .replaceAll('/tmp/', `${dir}/`)
      .replace(/listen 8080;/, `listen 127.0.0.1:${port};`)
      .replace(/\s*listen \[::\]:8080;/, '')
      .replace('server gateway:8000;', `server 127.0.0.1:${gwPort};`)
      .replace('root /usr/share/nginx/html;', `root ${html};`);
    expect(server).toContain(`server 127.0.0.1:${gwPort};`);
    await writeFile(path.join(dir, 'default.conf'), server);
    await writeFile(
      path.join(dir, 'nginx.conf'),
      [
        'user root;',
        'worker_processes 1;',
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/error.log warn;`,
        'events { worker_connections 64; }',
        'http {',
        '  include /etc/nginx/mime.types;',
        '  default_type application/octet-stream;',
        `  access_log ${dir}/access.log;`,
        `  include ${dir}/default.conf;`,
        '}',
        '',
      ].join('\n'),
    );
    const test = await run('nginx', ['-t', '-p', dir, '-c', path.join(dir, 'nginx.conf')]);
    expect(test.code, test.stderr).toBe(0);
    nginx = spawn('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
    nginx.stderr!.on('data', (d) => (nginxLog += d));
    base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await fetch(`${base}/health`);
        break;
      } catch {
        if (Date.now() > deadline || nginx.exitCode !== null) throw new Error(`nginx did not start: ${nginxLog}${await readFile(path.join(dir, 'error.log'), 'utf8').catch(() => '')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });

  afterAll(async () => {
    if (nginx && nginx.exitCode === null) {
      nginx.kill('SIGQUIT');
      await new Promise((r) => nginx!.once('exit', r));
    }
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

  it('caches assets and gzips them', async () => {
    const res = await fetch(`${base}/app.js`, { headers: { 'accept-encoding': 'gzip' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-encoding')).toBe('gzip');
    expect(res.headers.get('cache-control')).toBe('max-age=604800');
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

  it("accepts uploads up to the gateway's 25 MiB and refuses larger ones with 413", async () => {
    const ok = await fetch(`${base}/api/stylize`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(20 * 1024 * 1024) });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ bytes: 20 * 1024 * 1024 });
    const big = await fetch(`${base}/api/stylize`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(26 * 1024 * 1024) });
    expect(big.status).toBe(413);
  });
});
