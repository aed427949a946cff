/**
 * Per-layer measurements behind the onnx engine's formulation choices (graph.ts): each
 * style-network layer's forward pass, and forward + weight gradient with each
 * weight-gradient formulation; then max-pool gradients by mask and by indices.
 * Standalone: `tsx bench/finetuneLayers.ts` (BENCH_SIZE=256 for 256² inputs).
 */
import * as ort from 'onnxruntime-node';
import { convLayers } from '@nst/network';
import { TrainingGraph, type WeightGradientMethod } from '../services/finetune/src/engine/onnx/graph.ts';

const SIZE = Number(process.env.BENCH_SIZE) || 128;
const REPS = 5;

async function time(model: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<number> {
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 2, logSeverityLevel: 3 });
  await session.run(feeds);
  const ts: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const t0 = performance.now();
    await session.run(feeds);
    ts.push(performance.now() - t0);
  }
  await session.release();
  return Math.min(...ts);
}

const random = (shape: number[]) => new ort.Tensor('float32', Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.random() - 0.5), shape);

async function main(): Promise<void> {
  const rows: Record<string, string>[] = [];
  let side = SIZE;
  const seen = new Set<string>();
  for (const l of convLayers()) {
    const inSide = side;
    side = l.type === 'deconv' ? side * l.stride : side / l.stride;
    const key = `${l.type}${l.kernel}${l.stride}${l.inChannels}${l.outChannels}${inSide}`;
    if (seen.has(key)) continue; // the residual convs are all alike
    seen.add(key);
    const row: Record<string, string> = { layer: `${l.name} ${l.inChannels}→${l.outChannels} at ${inSide}²` };
    for (const variant of ['forward', 'im2col', 'shift-dy', 'conv'] as const) {
      if (variant === 'shift-dy' && (l.stride !== 1 || l.type !== 'conv')) continue;
      const g = new TrainingGraph();
      if (variant !== 'forward') g.weightGradientMethod = () => variant as WeightGradientMethod;
      const x = g.input('x', [1, l.inChannels, inSide, inSide], false);
      const kshape = l.type === 'conv' ? [l.kernel, l.kernel, l.inChannels, l.outChannels] : [l.kernel, l.kernel, l.outChannels, l.inChannels];
      const w = g.input('w', kshape, variant !== 'forward');
      const y = l.type === 'conv' ? g.conv(x, w, l.stride) : g.deconv(x, w, l.stride);
      const feeds: Record<string, ort.Tensor> = { x: random(x.shape), w: random(kshape) };
      if (variant === 'forward') g.output(y, 'y', y.shape);
      else {
        const t = g.input('t', y.shape, false);
        feeds.t = random(y.shape);
        g.output(g.gradients(g.meanSquaredError(y, t.name), [w]).get('w')!, 'dw', kshape);
      }
      row[variant === 'forward' ? 'forward ms' : `+ dW ${variant} ms`] = (await time(g.encode('layer'), feeds)).toFixed(1);
    }
    rows.push(row);
  }
  console.log(`\nStyle-network layers on onnxruntime-node (2 threads), ${SIZE}² input, fastest of ${REPS}`);
  console.table(rows);

  const pools: Record<string, string>[] = [];
  for (const shape of [[1, 64, SIZE, SIZE], [1, 128, SIZE / 2, SIZE / 2]]) {
    const row: Record<string, string> = { input: shape.join('×') };
    for (const method of ['mask', 'indices'] as const) {
      const g = new TrainingGraph();
      g.poolGradient = method;
      const x = g.input('x', shape, true);
      const y = g.maxPool2(x);
      const t = g.input('t', y.shape, false);
      g.output(g.gradients(g.meanSquaredError(y, t.name), [x]).get('x')!, 'dx', shape);
      row[`${method} ms`] = (await time(g.encode('pool'), { x: random(shape), t: random(y.shape) })).toFixed(1);
    }
    pools.push(row);
  }
  console.log('\nVGG max-pool forward + gradient');
  console.table(pools);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
