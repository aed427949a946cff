/** The OpenAPI document lists every route the gateway registers, with its request and response schemas. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_DOCS_PATH, OPENAPI_JSON_PATH } from '../src/app.ts';
import { inProcessGateway, type InProcessGateway } from './support/inProcessGateway.ts';

let gw: InProcessGateway;
beforeAll(async () => {
  gw = await inProcessGateway();
});
afterAll(() => gw?.close());

/** Routes that are deliberately not in the document: probes and scrapes, the document itself, the seed's aliases. */
const UNDOCUMENTED = new Set(['/health', '/metrics', OPENAPI_JSON_PATH, '/stylize', '/feedback']);

interface Operation {
  requestBody?: { content: Record<string, { schema: unknown }> };
  parameters?: { in: string; name: string }[];
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}

describe('OpenAPI document', () => {
  it('documents every registered route with its parameters, body and responses, errors included', async () => {
    const res = await gw.app.inject(OPENAPI_JSON_PATH);
    expect(res.statusCode).toBe(200);
    const doc = res.json() as { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } };
    // A retry is the job's id alone.
    const BODYLESS = new Set(['/api/admin/jobs/:id/retry']);
    // Hidden are exactly the routes meant to be; the rest (but swagger-ui's own files) must all be documented.
    const hidden = new Set(gw.routes.filter((r) => r.hidden && !r.url.startsWith(API_DOCS_PATH)).map((r) => r.url));
    expect([...hidden].sort()).toEqual([OPENAPI_JSON_PATH, '/feedback', '/stylize'].sort());
    const open = gw.routes.filter((r) => !UNDOCUMENTED.has(r.url) && !r.url.startsWith(API_DOCS_PATH) && r.method !== 'HEAD');
    expect(open.length).toBeGreaterThanOrEqual(20);
    for (const r of open) {
      const pathKey = r.url.replace(/:(\w+)/g, '{$1}');
      const op = doc.paths[pathKey]?.[r.method.toLowerCase()];
      expect(op, `${r.method} ${r.url} is in the document`).toBeDefined();
      const ok = Object.keys(op!.responses).find((s) => s.startsWith('2'));
      expect(ok, `${r.method} ${r.url} documents its success`).toBeDefined();
      for (const name of r.url.match(/:(\w+)/g) ?? []) expect(op!.parameters?.some((p) => p.in === 'path' && p.name === name.slice(1)), `${r.url} documents ${name}`).toBe(true);
      if (r.method === 'POST' && !BODYLESS.has(r.url)) expect(op!.requestBody, `${r.method} ${r.url} documents its body`).toBeDefined();
    }
    expect(doc.paths['/api/models/{model}/stats']!.get!.responses['404']!.content!['application/json']!.schema).toEqual({ $ref: '#/components/schemas/Error' });
    // Named components: answers by their name, request bodies with the Input suffix; none that nothing uses.
    const names = Object.keys(doc.components.schemas);
    expect(names).toEqual(expect.arrayContaining(['Error', 'StylizeResult', 'StylizeFormInput', 'FeedbackRequestInput', 'ModelStats', 'HistoryEntry', 'ModelCard', 'StyleImage', 'CanaryRequestInput']));
    expect(names).not.toContain('StylizeForm');
    expect(names).not.toContain('ErrorInput');
  });

  it('documents the multipart forms of /api/stylize and /api/styles, files included', async () => {
    const doc = (await gw.app.inject(OPENAPI_JSON_PATH)).json() as { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, { properties: Record<string, { format?: string }>; required: string[] }> } };
    const form = (url: string) => {
      const content = doc.paths[url]!.post!.requestBody!.content;
      expect(Object.keys(content)).toEqual(['multipart/form-data']);
      const ref = (content['multipart/form-data']!.schema as { $ref: string }).$ref;
      return doc.components.schemas[ref.replace('#/components/schemas/', '')]!;
    };
    const stylize = form('/api/stylize');
    expect(stylize.properties.image!.format).toBe('binary');
    expect(stylize.properties.style_image!.format).toBe('binary');
    expect(Object.keys(stylize.properties)).toEqual(expect.arrayContaining(['model', 'max_size', 'format', 'style', 'strength', 'preserve_colors']));
    expect(stylize.required).toEqual(expect.arrayContaining(['model', 'image']));
    expect(form('/api/styles').properties.image!.format).toBe('binary');
  });

  it('serves swagger-ui under the Content-Security-Policy', async () => {
    const page = await gw.app.inject(`${API_DOCS_PATH}/`);
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    // Every script of the page is a same-origin file (no inline script for the policy to block), and each is served.
    const scripts = [...page.body.matchAll(/<script([^>]*)>([^<]*)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, inline] of scripts) {
      expect(inline!.trim()).toBe('');
      const src = /src="([^"]+)"/.exec(attrs!)![1]!;
      const file = await gw.app.inject(new URL(src, `http://x${API_DOCS_PATH}/`).pathname);
      expect(file.statusCode, src).toBe(200);
    }
    const json = await gw.app.inject(`${API_DOCS_PATH}/json`);
    expect(json.statusCode).toBe(200);
  });
});
