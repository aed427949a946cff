/**
 * A gateway built in-process for the unit tier: a temporary file store holding one version of
 * a fast-style model (cards, a painting and a one-node ONNX graph in place of weights), and a
 * stand-in for the inference services that answers with a small real PNG.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { FastifyInstance } from 'fastify';
import { ONNX_INPUT, ONNX_OUTPUT } from '@nst/common';
import { identityModel } from '../../../common/test/support/onnxModel.ts';
import { testCard } from '../../../common/test/support/testCard.ts';
import { testJob } from '../../../../tests/support/jobs.ts';
import { buildGatewayApp, type RegisteredRoute } from '../../src/app.ts';
import { loadGatewayConfig } from '../../src/config.ts';
import type { GatewayContext, Inference } from '../../src/context.ts';
import type { FinetuneCalls } from '../../src/finetuneClient.ts';

/** A job as the fine-tuning service sends it, just queued. */
export const QUEUED_JOB = testJob({ id: 'job-1', steps: 10 });

/** Small enough that a test can send a photo over it. */
export const MAX_UPLOAD_BYTES = 256 * 1024;
export const ADMIN_TOKEN = 'unit-test-admin-token-0123456789';
export const JPEG = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 80, b: 30 } } }).jpeg().toBuffer();
const PNG = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 10, g: 80, b: 200 } } }).png().toBuffer();

export interface InProcessGateway {
  app: FastifyInstance;
  ctx: GatewayContext;
  /** Every route the app registered after its base service (health and metrics come before). */
  routes: RegisteredRoute[];
  /** Makes the stand-in for the inference services fail the next request with this error. */
  failNextInference(err: Error): void;
  /** Every call the stand-in for the fine-tuning service received. */
  finetuneCalls: { method: string; path: string; body?: unknown }[];
  close(): Promise<void>;
}

/** An ONNX graph of one Identity node with a fast-style model's interface: the release owner checks it. */
const WEIGHTS = identityModel([ONNX_INPUT], [ONNX_OUTPUT]);
const card = (model: string) => testCard(model, WEIGHTS);

export async function inProcessGateway(): Promise<InProcessGateway> {
  const dir = await mkdtemp(path.join(tmpdir(), 'nst-gw-unit-'));
  const config = loadGatewayConfig({
    NST_STORAGE_DIR: dir,
    NST_MODELS: 'model1=wave,custom=arbitrary',
    NST_SERVE_FRONTEND: 'false',
    NST_ADMIN_TOKEN: ADMIN_TOKEN,
    LOG_LEVEL: 'silent',
    NST_RATE_LIMIT_STYLIZE: '0',
    NST_RATE_LIMIT_FEEDBACK: '0',
    NST_MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES),
    NST_MAX_STYLE_BYTES: String(MAX_UPLOAD_BYTES / 2),
  });
  let failure: Error | undefined;
  const inference: Inference = {
    checkCapacity: () => undefined,
    infer: async (r) => {
      const err = failure;
      failure = undefined;
      if (err) throw err;
      return { image: PNG, version: r.version ?? 'model1_v1', width: 40, height: 30, timings: { inference_ms: 1 } };
    },
    ready: async () => ({ ready: true, version: 'model1_v1' }),
    close: async () => undefined,
  };
  const finetuneCalls: InProcessGateway['finetuneCalls'] = [];
  const finetune: FinetuneCalls = {
    call: async (method, p, body) => {
      finetuneCalls.push({ method, path: p, body });
      if (p === '/jobs/missing') return { status: 404, body: { statusCode: 404, error: 'Not Found', message: 'no job missing', request_id: 'x' } };
      return { status: method === 'POST' ? 202 : 200, body: method === 'GET' && p === '/jobs' ? { jobs: [QUEUED_JOB] } : QUEUED_JOB };
    },
  };
  const { app, ctx, routes } = await buildGatewayApp(config, { inference, finetune });
  for (let i = 0; i < 2; i++) await ctx.store.addVersion('model1', WEIGHTS, card('model1'));
  await ctx.release.initialRelease('model1', 'model1_v1');
  await mkdir(ctx.store.modelDir('model1'), { recursive: true });
  await writeFile(ctx.store.styleImagePath('model1'), JPEG);
  await app.ready();
  return {
    app,
    ctx,
    routes,
    finetuneCalls,
    failNextInference: (err) => {
      failure = err;
    },
    close: async () => {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A multipart/form-data body (what a browser's FormData sends). */
export function multipart(fields: Record<string, string | { file: Buffer; name: string; type: string }>): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----nst${Math.random().toString(16).slice(2)}`;
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value === 'string') parts.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
    else {
      parts.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${name}"; filename="${value.name}"\r\ncontent-type: ${value.type}\r\n\r\n`), value.file, Buffer.from('\r\n'));
    }
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}
