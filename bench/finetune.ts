/**
 * Fine-tuning benchmark: seconds per training step (transform net + VGG19 perceptual loss,
 * forward, backward and Adam update) at 128² and 256², batch 1 and 4, on this machine's
 * cores, with the backend the service would use. Standalone: `tsx bench/finetune.ts`.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { dataFolder, loadCheckpoint } from '@nst/common';
import { BASE_PREFIX, decodeSquare, decodeStyle, listedPhotos } from '../services/finetune/src/training/dataset.ts';
import { trainInWorker } from '../services/finetune/src/training/trainInWorker.ts';
import { loadVgg19Weights } from '../services/finetune/src/training/vgg19.ts';

export interface Row {
  image_size: number;
  batch_size: number;
  /** e.g. "wasm (2 threads)" or "wasm (2 data-parallel workers × 1 thread)". */
  backend: string;
  /** Median over the measured steps (the first, warm-up step excluded). */
  seconds_per_step: number;
  steps_measured: number;
}

const ONLY = process.env.BENCH_ONLY; // e.g. '256x4' to run one case
const CASES: Array<{ size: number; batch: number; steps: number }> = [
  { size: 128, batch: 1, steps: 5 },
  { size: 128, batch: 4, steps: 3 },
  { size: 256, batch: 1, steps: 3 },
  { size: 256, batch: 4, steps: 3 },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchFinetune(opts: { print?: boolean } = {}): Promise<Row[]> {
  const loc = { mirror: process.env.NST_DATA_MIRROR || undefined, cacheDir: path.resolve('.tmp/bench-data') };
  const threads = Number(process.env.NST_FINETUNE_THREADS) || availableParallelism();
  const dataParallel = process.env.NST_FINETUNE_DATA_PARALLEL === 'true';
  const styleDir = path.join(await dataFolder('models/fast-style/wave/', loc), 'models/fast-style/wave');
  const weights = await loadCheckpoint(styleDir);
  const vgg = await loadVgg19Weights(loc);
  const style = await decodeStyle(path.join(styleDir, 'style.jpg'), 512);
  const files = await listedPhotos(BASE_PREFIX, loc, 'base', 4);
  const rows: Row[] = [];
  for (const c of CASES.filter((k) => !ONLY || ONLY === `${k.size}x${k.batch}`)) {
    const photos = await Promise.all(files.map((f) => decodeSquare(f.path, c.size)));
    let backend = '';
    // A fresh training worker per case, exactly as the service runs a job.
    const out = await trainInWorker(
      {
      weights,
      vgg,
      style,
      photos,
      heldOut: [],
      params: { steps: c.steps, batchSize: c.batch, imageSize: c.size, learningRate: 1e-3, weights: { style: 100, content: 7.5, tv: 200 }, seed: 1 },
      },
      { threads, dataParallel },
      {
        onBackend: (i) => {
          backend = i.workers > 1 ? `${i.backend} (${i.workers} data-parallel workers × ${i.threads} thread)` : `${i.backend} (${i.threads} threads)`;
        },
        onStep: (r) => void process.stderr.write(`  ${c.size}² batch ${c.batch}: step ${r.step}/${r.steps} ${r.seconds.toFixed(2)} s\n`),
      },
    );
    const measured = out.stepSeconds.slice(1);
    rows.push({ image_size: c.size, batch_size: c.batch, backend, seconds_per_step: median(measured), steps_measured: measured.length });
  }
  if (opts.print ?? true) {
    console.log(`\nFine-tuning: seconds per training step (style net + VGG19 relu1_1…relu3_1 loss + Adam), ${availableParallelism()} cores`);
    console.table(rows.map((r) => ({ size: `${r.image_size}x${r.image_size}`, batch: r.batch_size, backend: r.backend, 's/step': r.seconds_per_step.toFixed(2) })));
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
