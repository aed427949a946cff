/**
 * The platform store's cost, on each backend (files; PostgreSQL in a throw-away local
 * cluster): feedback posts per second through the gateway and straight into the store, and
 * stylise latency through the gateway (median), so the price of the database is visible.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileStore, type PlatformStore } from '@nst/common';
import { PgStore } from '@nst/common/store/pgStore';
import { postJson, stylize } from '../tests/support/http.ts';
import { startPostgres } from '../tests/support/postgres.ts';
import { contentPhoto, startTestStack } from '../tests/support/stack.ts';

const OUTPUTS = 150;
const POSTS_PER_OUTPUT = 3;
const CONCURRENCY = 16;
const STYLISE_RUNS = 15;
const DIRECT_WRITES = 3000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function pool<T>(items: T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

async function directWrites(store: PlatformStore): Promise<number> {
  const t = performance.now();
  await pool(
    Array.from({ length: DIRECT_WRITES }, (_, i) => i),
    CONCURRENCY,
    async (i) => {
      const now = new Date().toISOString();
      await store.addFeedback({ feedback: 'good', model: 'bench', version: 'bench_v1', content_image_filename: `in_${i}`, output_image_filename: `out_${i}`, timestamp: now, received_at: now, client_id: `c${i}` });
    },
  );
  return DIRECT_WRITES / ((performance.now() - t) / 1000);
}

async function throughGateway(databaseUrl: string | undefined, photo: Buffer): Promise<{ postsPerS: number; styliseMs: number }> {
  const s = await startTestStack({ models: ['model1=wave'], env: { LOG_LEVEL: 'warn', NST_RATE_LIMIT_STYLIZE: '0', NST_RATE_LIMIT_FEEDBACK: '0', ...(databaseUrl ? { NST_DATABASE_URL: databaseUrl } : {}) } });
  try {
    const times: number[] = [];
    await stylize(s.gatewayUrl, { image: photo, model: 'model1', max_size: '256' }); // warm-up
    for (let i = 0; i < STYLISE_RUNS; i++) {
      const t = performance.now();
      const r = await stylize(s.gatewayUrl, { image: photo, model: 'model1', max_size: '256' }, { 'x-client-id': `lat-${i}` });
      if (r.status !== 200) throw new Error(`stylise answered ${r.status}`);
      times.push(performance.now() - t);
    }
    const outputs: { client: string; content: string; output: string }[] = [];
    await pool(
      Array.from({ length: OUTPUTS }, (_, i) => i),
      4,
      async (i) => {
        const r = await stylize(s.gatewayUrl, { image: photo, model: 'model1', max_size: '32' }, { 'x-client-id': `rater-${i}` });
        outputs.push({ client: `rater-${i}`, content: r.body.content_image_filename as string, output: r.body.output_image_filename as string });
      },
    );
    const posts = outputs.flatMap((o) => Array.from({ length: POSTS_PER_OUTPUT }, (_, k) => ({ ...o, feedback: k % 2 ? 'bad' : 'good' })));
    const t = performance.now();
    await pool(posts, CONCURRENCY, async (p) => {
      const r = await postJson(
        `${s.gatewayUrl}/api/feedback`,
        { feedback: p.feedback, model: 'model1', content_image_filename: p.content, output_image_filename: p.output, timestamp: new Date().toISOString() },
        { 'x-client-id': p.client },
      );
      if (r.status !== 201) throw new Error(`feedback answered ${r.status}: ${JSON.stringify(r.body)}`);
    });
    return { postsPerS: posts.length / ((performance.now() - t) / 1000), styliseMs: median(times) };
  } finally {
    await s.stop();
  }
}

export async function benchStore(): Promise<void> {
  const photo = await readFile(await contentPhoto(0));
  // Durable like production: every commit reaches the disk, as every file append does.
  const pg = await startPostgres({ durable: true });
  try {
    const rows = [];
    for (const backend of ['file', 'postgres'] as const) {
      const url = backend === 'postgres' ? await pg.createDatabase() : undefined;
      const dir = await mkdtemp(path.join(tmpdir(), 'nst-bench-store-'));
      const direct: PlatformStore = url ? await PgStore.open(url) : new FileStore(dir);
      const perS = await directWrites(direct);
      await direct.close();
      await rm(dir, { recursive: true, force: true });
      const gw = await throughGateway(url ? await pg.createDatabase() : undefined, photo);
      rows.push({
        backend,
        'feedback posts/s (gateway, 16 at once)': gw.postsPerS.toFixed(0),
        'store writes/s (direct, 16 at once)': perS.toFixed(0),
        'stylise 256px median ms': gw.styliseMs.toFixed(0),
      });
    }
    console.log('\nPlatform store: files vs PostgreSQL (local cluster, fsync on; one gateway, one inference process)');
    console.table(rows);
  } finally {
    await pg.stop();
  }
}
