/**
 * `pnpm bench`: raw onnxruntime time for one model at 256², 512² and 1024², the same
 * images through the gateway (median of several runs), their ratio, and the inference
 * process's peak memory. Then the fine-tuning figures when that bench is present.
 * Then the arbitrary-style model (MicroAST) at 512² and 1024², for the first photo of a new
 * painting and for a repeated painting (its style code cached), and a 3840×2160 photo in tiles
 * (time and peak memory, against the 1024² time scaled by pixels).
 * Figures, not pass/fail: the target is a gateway overhead of at most 10% at 512²; peak
 * memory of a 3840×2160 run under 1.5 GB.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { ONNX_INPUT } from '@nst/common';
import { contentPhoto, startTestStack } from '../tests/support/stack.ts';
import { stylize } from '../tests/support/http.ts';
import path from 'node:path';

const SIZES = [256, 512, 1024];
const RUNS: Record<number, number> = { 256: 7, 512: 5, 1024: 3 };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function squarePhoto(size: number): Promise<{ jpeg: Buffer; pixels: Float32Array }> {
  const img = sharp(await contentPhoto(0)).resize(size, size, { fit: 'cover' });
  const raw = await img.clone().raw().toBuffer();
  return { jpeg: await img.jpeg({ quality: 92 }).toBuffer(), pixels: Float32Array.from(raw) };
}

/** Peak resident set (VmHWM) of a process, in MiB. */
function peakRssMiB(pid: number | undefined): number {
  if (!pid) return NaN;
  const kb = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

async function main(): Promise<void> {
  if (!process.env.NST_DATA_MIRROR) console.log('(NST_DATA_MIRROR unset: data will be downloaded from upstream)');
  const stack = await startTestStack({ models: ['model1=wave'], env: { NST_ORT_THREADS: '0', LOG_LEVEL: 'warn' } });
  const rows: string[][] = [];
  try {
    const onnx = await readFile(stack.store.onnxPath('model1', 'model1_v1'));
    // Same session options as the inference service (NST_ORT_THREADS=0: every core).
    const session = await ort.InferenceSession.create(onnx, { intraOpNumThreads: 0, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
    for (const size of SIZES) {
      const { jpeg, pixels } = await squarePhoto(size);
      const input = new ort.Tensor('float32', pixels, [1, size, size, 3]);
      await session.run({ [ONNX_INPUT]: input }); // warm-up
      const raw: number[] = [];
      for (let i = 0; i < RUNS[size]!; i++) {
        const t = performance.now();
        await session.run({ [ONNX_INPUT]: input });
        raw.push(performance.now() - t);
      }
      await stylize(stack.gatewayUrl, { image: jpeg, filename: 'b.jpg', model: 'model1', max_size: String(size) }); // warm-up
      const viaGateway: number[] = [];
      for (let i = 0; i < RUNS[size]!; i++) {
        const t = performance.now();
        const r = await stylize(stack.gatewayUrl, { image: jpeg, filename: 'b.jpg', model: 'model1', max_size: String(size) });
        if (r.status !== 200) throw new Error(`gateway answered ${r.status}: ${JSON.stringify(r.body)}`);
        viaGateway.push(performance.now() - t);
      }
      const [r, g] = [median(raw), median(viaGateway)];
      rows.push([`${size}x${size}`, r.toFixed(0), g.toFixed(0), (g / r).toFixed(3), `${(((g - r) / r) * 100).toFixed(1)}%`]);
    }
    await session.release();
    const peak = peakRssMiB(stack.stack.pid('inference-model1'));
    console.log(`\nInference (model1 = wave), ${availableParallelism()} cores, onnxruntime-node ${ort.env.versions.common}; median ms`);
    console.table(rows.map(([size, raw, gw, ratio, overhead]) => ({ size, 'raw onnxruntime ms': raw, 'through gateway ms': gw, ratio, 'gateway adds': overhead })));
    console.log(`Peak memory (VmHWM) of the inference process: ${peak.toFixed(0)} MiB`);
  } finally {
    await stack.stop();
  }
  const gateway1024 = Number(rows.find((r) => r[0] === '1024x1024')?.[2]);
  await benchArbitrary();
  await bench4k(gateway1024);
  const finetuneBench = new URL('./finetune.ts', import.meta.url);
  if (existsSync(finetuneBench)) {
    const mod = (await import(finetuneBench.href)) as { benchFinetune?: () => Promise<unknown> };
    if (mod.benchFinetune) await mod.benchFinetune();
  }
  await (await import('./store.ts')).benchStore();
  await (await import('./overload.ts')).benchOverload();
}

async function postForm(url: string, files: Record<string, Buffer>, fields: Record<string, string>): Promise<Record<string, unknown>> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  for (const [k, v] of Object.entries(files)) form.set(k, new Blob([new Uint8Array(v)]), `${k}.jpg`);
  const res = await fetch(url, { method: 'POST', body: form });
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`${url} answered ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

/** MicroAST: a new painting's first photo (style encoded) against a repeated painting (cached). */
async function benchArbitrary(): Promise<void> {
  const stack = await startTestStack({ models: ['custom=arbitrary'], env: { NST_ORT_THREADS: '0', LOG_LEVEL: 'warn' } });
  const paintings = ['starry_night.jpg', 'the_scream.jpg', 'shipwreck.jpg', 'woman-with-hat-matisse.jpg'].map((f) => path.join(process.env.NST_DATA_MIRROR ?? '', 'images/style', f));
  const rows: Record<string, string>[] = [];
  try {
    for (const size of [512, 1024]) {
      const { jpeg } = await squarePhoto(size);
      const first: number[] = [];
      const repeated: number[] = [];
      for (const painting of paintings.slice(0, 3)) {
        const style = (await postForm(`${stack.gatewayUrl}/api/styles`, { image: await readFile(painting) }, {})).id as string;
        for (const list of [first, repeated, repeated]) {
          const t = performance.now();
          await postForm(`${stack.gatewayUrl}/api/stylize`, { image: jpeg }, { model: 'custom', style, max_size: String(size) });
          list.push(performance.now() - t);
        }
      }
      rows.push({ size: `${size}x${size}`, 'new painting ms': median(first).toFixed(0), 'repeated painting ms': median(repeated).toFixed(0) });
    }
    console.log('\nArbitrary style (custom = MicroAST) through the gateway; median ms of 3 paintings');
    console.table(rows);
    console.log(`Peak memory (VmHWM) of the custom inference process: ${peakRssMiB(stack.stack.pid('inference-custom')).toFixed(0)} MiB`);
  } finally {
    await stack.stop();
  }
}

/** A 3840×2160 photo through the gateway, run in tiles; its own process so the peak is its own. */
async function bench4k(gateway1024Ms: number): Promise<void> {
  const stack = await startTestStack({ models: ['model1=wave'], env: { NST_ORT_THREADS: '0', LOG_LEVEL: 'warn', NST_INFERENCE_TIMEOUT_MS: '900000' } });
  try {
    const jpeg = await sharp(await contentPhoto(0)).resize(3840, 2160, { fit: 'cover' }).jpeg({ quality: 92 }).toBuffer();
    const t = performance.now();
    const r = await stylize(stack.gatewayUrl, { image: jpeg, filename: 'b.jpg', model: 'model1', max_size: '3840', format: 'jpeg' });
    const ms = performance.now() - t;
    if (r.status !== 200) throw new Error(`gateway answered ${r.status}: ${JSON.stringify(r.body)}`);
    const scaled = gateway1024Ms * ((3840 * 2160) / (1024 * 1024));
    console.log(`\n3840x2160 (model1 = wave, tiled, thumbnail statistics) through the gateway: ${r.body.width}x${r.body.height}`);
    console.table([{ 'ms': ms.toFixed(0), '1024² ms scaled by pixels': scaled.toFixed(0), ratio: (ms / scaled).toFixed(2), 'peak RSS MiB': peakRssMiB(stack.stack.pid('inference-model1')).toFixed(0) }]);
  } finally {
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
