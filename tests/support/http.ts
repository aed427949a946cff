/** Small helpers for talking to the real services in tests. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export async function stylize(gatewayUrl: string, fields: { image?: Buffer | string; filename?: string; model?: string; max_size?: string; format?: string }, headers: Record<string, string> = {}) {
  const form = new FormData();
  if (fields.model !== undefined) form.set('model', fields.model);
  if (fields.max_size !== undefined) form.set('max_size', fields.max_size);
  if (fields.format !== undefined) form.set('format', fields.format);
  if (fields.image !== undefined) {
    const bytes = typeof fields.image === 'string' ? await readFile(fields.image) : fields.image;
    const name = fields.filename ?? (typeof fields.image === 'string' ? path.basename(fields.image) : 'upload.bin');
    form.set('image', new Blob([new Uint8Array(bytes)]), name);
  }
  const res = await fetch(`${gatewayUrl}/api/stylize`, { method: 'POST', body: form, headers });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

export async function getJson(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
