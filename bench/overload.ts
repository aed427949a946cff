/**
 * Overload run: one model, 8× more concurrent clients than it can take in (what its
 * inference service runs plus queues, NST_INFER_CONCURRENCY + NST_QUEUE_SIZE). Each client
 * stylises in a loop and, when shed, waits the Retry-After it was given. Prints goodput
 * (successful stylises per second) against the unloaded throughput of one client (target
 * ≥ 90%), how fast the excess was answered (target: every one within 1 s), and the peak
 * memory of the gateway and the inference process.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { Agent } from 'undici';
import { contentPhoto, startTestStack } from '../tests/support/stack.ts';

const CONCURRENCY = 1;
const QUEUE = 16;
const CLIENTS = 8 * (CONCURRENCY + QUEUE);
const SIZE = 256;
const UNLOADED_RUNS = 6;
const LOADED_SECONDS = 30;

const peakRssMiB = (pid: number | undefined) => (pid ? Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024 : NaN);

export async function benchOverload(): Promise<void> {
  const stack = await startTestStack({
    models: ['model1=wave'],
    env: { LOG_LEVEL: 'warn', NST_ORT_THREADS: '0', NST_INFER_CONCURRENCY: String(CONCURRENCY), NST_QUEUE_SIZE: String(QUEUE), NST_INFERENCE_MAX_IN_FLIGHT: String(CONCURRENCY + QUEUE) },
  });
  const dispatcher = new Agent({ connections: CLIENTS + 8 });
  try {
    const jpeg = await sharp(await readFile(await contentPhoto(0))).resize(SIZE, SIZE, { fit: 'cover' }).jpeg({ quality: 90 }).toBuffer();
    const once = async (client: string) => {
      const form = new FormData();
      form.set('model', 'model1');
      form.set('max_size', String(SIZE));
      form.set('image', new Blob([new Uint8Array(jpeg)]), 'b.jpg');
      const t = performance.now();
      const res = await fetch(`${stack.gatewayUrl}/api/stylize`, { method: 'POST', body: form, headers: { 'x-client-id': client }, dispatcher } as RequestInit);
      await res.arrayBuffer();
      return { status: res.status, ms: performance.now() - t, retryAfter: Number(res.headers.get('retry-after') ?? 1) };
    };

    await once('warm-up');
    // One client alone, before and after the overload (the mean of both, against drift on a shared machine).
    const alone = async () => {
      const t0 = performance.now();
      for (let i = 0; i < UNLOADED_RUNS; i++) if ((await once('alone')).status !== 200) throw new Error('unloaded request failed');
      return UNLOADED_RUNS / ((performance.now() - t0) / 1000);
    };
    const before = await alone();

    const ok: number[] = [];
    const shed: number[] = [];
    const other: number[] = [];
    const end = performance.now() + LOADED_SECONDS * 1000;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        while (performance.now() < end) {
          const r = await once(`client-${i}`).catch(() => ({ status: 0, ms: 0, retryAfter: 1 }));
          if (r.status === 200) ok.push(r.ms);
          else if (r.status === 503 || r.status === 429) {
            shed.push(r.ms);
            // As told, but not past the end of the run (a sleeping client does no work to measure).
            await new Promise((res) => setTimeout(res, Math.max(0, Math.min(r.retryAfter * 1000, end - performance.now()))));
          } else other.push(r.status);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const unloaded = (before + (await alone())) / 2;
    const goodput = ok.length / seconds;
    const slowest = shed.length ? Math.max(...shed) : 0;
    console.log(`\nOverload (model1, ${SIZE}² photos): ${CLIENTS} concurrent clients, ${CONCURRENCY + QUEUE} admitted at once, ${LOADED_SECONDS} s`);
    console.table({
      'unloaded throughput (1 client)': `${unloaded.toFixed(2)} req/s (before ${before.toFixed(2)}, after ${((unloaded * 2) - before).toFixed(2)})`,
      'goodput under overload': `${goodput.toFixed(2)} req/s (${((goodput / unloaded) * 100).toFixed(0)}% of unloaded; target ≥ 90%)`,
      'successful / shed / other': `${ok.length} / ${shed.length} / ${other.length}${other.length ? ` (${[...new Set(other)].join(',')})` : ''}`,
      'shed answered within 1 s': `${shed.filter((ms) => ms < 1000).length} of ${shed.length} (slowest ${slowest.toFixed(0)} ms)`,
      'peak RSS gateway': `${peakRssMiB(stack.stack.pid('gateway')).toFixed(0)} MiB`,
      'peak RSS inference': `${peakRssMiB(stack.stack.pid('inference-model1')).toFixed(0)} MiB`,
    });
  } finally {
    await dispatcher.close();
    await stack.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchOverload();
