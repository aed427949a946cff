/**
 * Fine-tuning benchmark: seconds per training step (transform net + VGG19 perceptual loss,
 * forward, backward and Adam update) at 128² and 256², batch 1 and 4, for the onnx engine
 * (the default) and the TF.js engine it replaced (tfjs-node where installed, else wasm),
 * measured in the same run, with each case's peak resident memory. Standalone:
 * `tsx bench/finetune.ts`. BENCH_ONLY=256x4 runs one case; BENCH_ENGINES=onnx one engine.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { dataFolder } from '@nst/common';
import { loadCheckpoint } from '@nst/network';
import { BASE_PREFIX, decodeSquare, decodeStyle, listedPhotos } from '../services/finetune/src/ml/dataset.ts';
import { ENGINE_ENV } from '../services/finetune/src/engine/engineChoice.ts';
import type { BackendOptions } from '../services/finetune/src/engine/tfBackend.ts';
import { trainInWorker } from '../services/finetune/src/engine/trainInWorker.ts';
import { loadVgg19Weights } from '../services/finetune/src/ml/vgg19.ts';

export interface Row {
  image_size: number;
  batch_size: number;
  /** e.g. "onnx (2 threads)" or "wasm (2 threads)". */
  backend: string;
  /** Median over the measured steps (the first, warm-up step excluded). */
  seconds_per_step: number;
  steps_measured: number;
  /** Highest resident set size of the process while the case ran. */
  peak_rss_mib: number;
}

const ONLY = process.env.BENCH_ONLY; // e.g. '256x4' to run one case
const CASES: Array<{ size: number; batch: number; steps: number }> = [
  { size: 128, batch: 1, steps: 5 },
  { size: 128, batch: 4, steps: 3 },
  { size: 256, batch: 1, steps: 3 },
  { size: 256, batch: 4, steps: 3 },
];
/** 'onnx' is the service's default (no backend named); 'tfjs' is tfjs-node where it loads, else wasm. */
const ENGINES: Array<{ name: string; backend: BackendOptions }> = [
  { name: 'onnx', backend: {} },
  { name: 'tfjs', backend: { prefer: 'auto' as const } },
].filter((e) => !process.env.BENCH_ENGINES || process.env.BENCH_ENGINES.split(',').includes(e.name));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Samples the process's RSS while fn runs (training workers are threads of this process). */
async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ result: T; peakMiB: number }> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50);
  try {
    const result = await fn();
    return { result, peakMiB: Math.round(Math.max(peak, process.memoryUsage.rss()) / 2 ** 20) };
  } finally {
    clearInterval(timer);
  }
}

export async function benchFinetune(opts: { print?: boolean } = {}): Promise<Row[]> {
  const loc = { mirror: process.env.NST_DATA_MIRROR || undefined, cacheDir: path.resolve('.tmp/bench-data') };
  const threads = Number(process.env.NST_FINETUNE_THREADS) || availableParallelism();
  const styleDir = path.join(await dataFolder('models/fast-style/wave/', loc), 'models/fast-style/wave');
  const weights = await loadCheckpoint(styleDir);
  const vgg = await loadVgg19Weights(loc);
  const style = await decodeStyle(path.join(styleDir, 'style.jpg'), 512);
  const files = await listedPhotos(BASE_PREFIX, loc, 'base', 4);
  const rows: Row[] = [];
  // The training worker reads the engine choice from its environment.
  process.env[ENGINE_ENV] = 'onnx';
  for (const c of CASES.filter((k) => !ONLY || ONLY === `${k.size}x${k.batch}`)) {
    const photos = await Promise.all(files.map((f) => decodeSquare(f.path, c.size)));
    for (const engine of ENGINES) {
      let backend = '';
      // A fresh training worker per case, exactly as the service runs a job.
      const { result: out, peakMiB } = await withPeakRss(() =>
        trainInWorker(
          {
            weights,
            vgg,
            style,
            photos,
            heldOut: [],
            params: { steps: c.steps, batchSize: c.batch, imageSize: c.size, learningRate: 1e-3, weights: { style: 100, content: 7.5, tv: 200 }, seed: 1 },
          },
          { ...engine.backend, threads },
          {
            onBackend: (i) => {
              backend = `${i.backend} (${i.threads} threads)`;
            },
            onStep: (r) => void process.stderr.write(`  ${engine.name} ${c.size}² batch ${c.batch}: step ${r.step}/${r.steps} ${r.seconds.toFixed(2)} s\n`),
          },
        ),
      );
      const measured = out.stepSeconds.slice(1);
      rows.push({ image_size: c.size, batch_size: c.batch, backend, seconds_per_step: median(measured), steps_measured: measured.length, peak_rss_mib: peakMiB });
    }
  }
  if (opts.print ?? true) {
    console.log(`\nFine-tuning: seconds per training step (style net + VGG19 relu1_1…relu3_1 loss + Adam), ${availableParallelism()} cores`);
    console.table(
      rows.map((r) => {
        const onnx = rows.find((o) => o.image_size === r.image_size && o.batch_size === r.batch_size && o.backend.startsWith('onnx'));
        return {
          size: `${r.image_size}x${r.image_size}`,
          batch: r.batch_size,
          backend: r.backend,
          's/step': r.seconds_per_step.toFixed(2),
          'vs onnx': onnx ? `${(r.seconds_per_step / onnx.seconds_per_step).toFixed(2)}×` : '',
          'peak RSS MiB': r.peak_rss_mib,
        };
      }),
    );
  }
  return rows;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  benchFinetune().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
