/**
 * `pnpm bench`: raw onnxruntime time for one model at 256², 512² and 1024², the same
 * images through the gateway (median of several runs), their ratio, and the inference
 * process's peak memory. Then the fine-tuning figures when that bench is present.
 * Figures, not pass/fail: the target is a gateway overhead of at most 10% at 512².
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { ONNX_INPUT } from '@nst/common';
import { contentPhoto, startTestStack } from '../tests/support/stack.ts';
import { stylize } from '../tests/support/http.ts';

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
  const finetuneBench = new URL('./finetune.ts', import.meta.url);
  if (existsSync(finetuneBench)) {
    const mod = (await import(finetuneBench.href)) as { benchFinetune?: () => Promise<unknown> };
    if (mod.benchFinetune) await mod.benchFinetune();
  }
  await (await import('./store.ts')).benchStore();
  await (await import('./overload.ts')).benchOverload();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
