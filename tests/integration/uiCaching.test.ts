/**
 * After a deploy browsers load the new UI: the built pages reference content-hashed bundles,
 * the gateway serves the pages with no-cache and the hashed bundles as immutable.
 * (docker/nginx.conf does the same for the frontend image: tests/deploy/nginx.test.ts.)
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGatewayApp } from '@nst/gateway/app';
import { loadGatewayConfig } from '@nst/gateway/config';

const DIST = path.resolve(import.meta.dirname, '../../frontend/dist');

describe('UI caching', () => {
  let dir: string;
  let app: Awaited<ReturnType<typeof buildGatewayApp>>['app'];
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'nst-ui-cache-'));
    const config = loadGatewayConfig({ NST_STORAGE_DIR: dir, NST_MODELS: 'model1=wave', NST_FRONTEND_DIR: DIST, NST_ADMIN_TOKEN: 'ui-cache-admin-token-0123456789', LOG_LEVEL: 'silent' });
    ({ app } = await buildGatewayApp(config));
  });
  afterAll(async () => {
    await app?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('builds hashed bundle names into the pages (pnpm build:frontend)', async () => {
    const files = await readdir(DIST);
    // Each page: the shared stylesheet, its own, and its script.
    for (const [page, own] of [['index.html', /^(app|base|index)-[A-Z0-9]{8}\.(js|css)$/], ['admin.html', /^(admin|base)-[A-Z0-9]{8}\.(js|css)$/]] as const) {
      const html = await readFile(path.join(DIST, page), 'utf8');
      const bundles = [...html.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
      expect(bundles).toHaveLength(3);
      for (const b of bundles) {
        expect(b).toMatch(own);
        expect(files).toContain(b);
      }
    }
    expect(files).not.toContain('app.js');
  });

  it('serves pages uncached and hashed bundles immutable', async () => {
    const html = (await readFile(path.join(DIST, 'index.html'), 'utf8')) + (await readFile(path.join(DIST, 'admin.html'), 'utf8'));
    for (const url of ['/', '/index.html', '/admin.html']) {
      const res = await app.inject({ url });
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-cache');
    }
    for (const [, name] of html.matchAll(/(?:src|href)="([^"]+-[A-Z0-9]{8}\.(?:js|css))"/g)) {
      const res = await app.inject({ url: `/${name}` });
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    }
  });
});
