/**
 * Run under a file size limit (prlimit --fsize) by feedbackDiskFull.test.ts: the real gateway
 * app on a file store, ratings of stored outputs posted until feedback.jsonl is full; prints
 * each answer and /ready.
 */
import { buildGatewayApp } from '../../src/app.ts';
import { loadGatewayConfig } from '../../src/config.ts';

const dir = process.argv[2]!;
const config = loadGatewayConfig({ NST_STORAGE_DIR: dir, NST_MODELS: 'model1=wave', NST_ADMIN_TOKEN: 'disk-full-test-token-0123456789', NST_SERVE_FRONTEND: 'false', LOG_LEVEL: 'silent' });
const { app, ctx } = await buildGatewayApp(config);
const answers: { status: number; message?: string }[] = [];
for (let i = 0; i < 30; i++) {
  const output = ctx.images.newOutputName('png');
  const content = ctx.images.newInputName('png');
  await ctx.images.saveOutput(output, new Uint8Array([1, 2, 3]), { model: 'model1', version: 'model1_v1', content_image_filename: content, width: 1, height: 1, created_at: new Date().toISOString(), request_id: `r${i}`, client_id: `c${i}` });
  const res = await app.inject({
    method: 'POST',
    url: '/api/feedback',
    headers: { 'x-client-id': `c${i}` },
    payload: { feedback: 'bad', model: 'model1', content_image_filename: content, output_image_filename: output, timestamp: new Date().toISOString(), comment: 'x'.repeat(100) },
  });
  answers.push({ status: res.statusCode, message: (res.json() as { message?: string }).message });
}
const ready = await app.inject({ method: 'GET', url: '/ready' });
console.log(JSON.stringify({ answers, ready: { status: ready.statusCode, body: ready.json() as unknown } }));
await app.close();
