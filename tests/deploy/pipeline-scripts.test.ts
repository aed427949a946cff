/**
 * The scripts the Jenkins pipelines call, run for real: the feedback gate (logic in
 * @nst/common/feedbackGate) on a real store and over HTTP, the fine-tune trigger against a small
 * real HTTP server that answers like the fine-tuning API, and the smoke test against the real
 * platform (gateway + inference started by tests/support/stack.ts).
 */
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createService } from '@nst/common';
import { countBadFeedback, gateFromStats, gateFromStore, parseFeedbackLines } from '@nst/common/feedbackGate';
import { smokeTest } from '../../scripts/pipeline/smoke-test.ts';
import { dataMirror, startTestStack, type TestStack } from '../support/stack.ts';
import { rel, run } from './tools.ts';

type FastifyInstance = ReturnType<typeof createService>;

const tsx = rel('node_modules/.bin/tsx');
const script = (name: string) => rel('scripts/pipeline', name);

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address() as { port: number };
  return `http://127.0.0.1:${addr.port}`;
}

/** A store with model1 live at v2 (went live at `liveSince`) and v1 before it. */
async function makeStore(liveSince: Date): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'nst-gate-'));
  const mdir = path.join(dir, 'models', 'model1');
  await mkdir(mdir, { recursive: true });
  for (const v of ['model1_v1', 'model1_v2']) {
    await writeFile(path.join(mdir, `${v}.onnx`), 'onnx');
    await writeFile(path.join(mdir, `${v}.json`), '{}');
  }
  await writeFile(path.join(mdir, 'latest.txt'), 'model1_v2\n');
  await utimes(path.join(mdir, 'latest.txt'), liveSince, liveSince);
  return dir;
}

const line = (feedback: 'good' | 'bad', version: string, at: Date, model = 'model1') =>
  JSON.stringify({ feedback, model, version, content_image_filename: 'a.jpg', output_image_filename: 'b.png', timestamp: at.toISOString(), received_at: at.toISOString() });

describe('feedback gate logic (@nst/common/feedbackGate)', () => {
  const live = new Date('2026-01-10T00:00:00Z');
  const after = (h: number) => new Date(live.getTime() + h * 3600_000);

  it('counts only bad ratings of the live version since it went live', () => {
    const recs = parseFeedbackLines(
      [
        line('bad', 'model1_v2', after(1)),
        line('bad', 'model1_v2', after(2)),
        line('good', 'model1_v2', after(3)),
        line('bad', 'model1_v1', after(4)), // older version
        line('bad', 'model1_v2', after(-5)), // before it went live (e.g. rolled back and forth)
        line('bad', 'model1_v2', after(5), 'model2'), // another model
        '{"feedback":"bad","model":"model1","version":"model1_v2"', // half-written last line
        '',
      ].join('\n'),
    );
    expect(recs).toHaveLength(6);
    expect(countBadFeedback(recs, 'model1', 'model1_v2', live)).toBe(2);
    expect(countBadFeedback(recs, 'model1', 'model1_v2')).toBe(3);
  });

  it('triggers only when the count exceeds the threshold', () => {
    const stats = (bad: number) => ({ model: 'model1', live_version: 'model1_v2', versions: [{ version: 'model1_v1', bad: 50 }, { version: 'model1_v2', bad, requests: 40, good: 1, bad_rate: 0.1, since: live.toISOString() }] });
    expect(gateFromStats(stats(5), 5).trigger).toBe(false);
    expect(gateFromStats(stats(6), 5)).toMatchObject({ trigger: true, bad: 6, live_version: 'model1_v2', since: live.toISOString(), source: 'stats' });
    expect(gateFromStats({ model: 'model1', live_version: null, versions: [] }, 0).trigger).toBe(false);
    expect(() => gateFromStats(stats(1), -1)).toThrow(RangeError);
  });

  it('reads the live version, its go-live time and feedback.jsonl from the shared volume', async () => {
    const dir = await makeStore(live);
    try {
      const lines = [line('bad', 'model1_v1', after(1)), line('bad', 'model1_v2', after(-1))];
      for (let i = 0; i < 6; i++) lines.push(line('bad', 'model1_v2', after(i + 1)));
      await writeFile(path.join(dir, 'feedback.jsonl'), `${lines.join('\n')}\n`);
      expect(await gateFromStore(dir, 'model1', 5)).toMatchObject({ model: 'model1', live_version: 'model1_v2', bad: 6, trigger: true, since: live.toISOString(), source: 'store' });
      expect(await gateFromStore(dir, 'model1', 6)).toMatchObject({ bad: 6, trigger: false });
      expect(await gateFromStore(dir, 'model2', 0)).toMatchObject({ live_version: null, trigger: false });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('scripts/pipeline/feedback-gate.ts (CLI)', () => {
  it('decides from a store directory and feedback file given by flags', async () => {
    const live = new Date(Date.now() - 3600_000);
    const dir = await makeStore(live);
    try {
      const fb = path.join(dir, 'elsewhere.jsonl');
      await writeFile(fb, Array.from({ length: 3 }, () => line('bad', 'model1_v2', new Date())).join('\n'));
      const r = await run(tsx, [script('feedback-gate.ts'), '--storage-dir', dir, '--feedback-file', fb, '--model', 'model1', '--threshold', '2']);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { trigger: string[]; decisions: { bad: number }[] };
      expect(out.trigger).toEqual(['model1']);
      expect(out.decisions[0]!.bad).toBe(3);
      const strict = await run(tsx, [script('feedback-gate.ts'), '--storage-dir', dir, '--feedback-file', fb, '--model', 'model1', '--fail-on-trigger']);
      expect(strict.code).toBe(0); // 3 is not over the default 5
      const usage = await run(tsx, [script('feedback-gate.ts'), '--threshold', 'lots']);
      expect(usage.code).toBe(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("decides from the gateway's /api/models/:model/stats over HTTP", async () => {
    const api = createService({ service: 'fake-gateway', logLevel: 'silent' });
    const bad: Record<string, number> = { model1: 9, model2: 1 };
    api.get('/api/models', async () => ({ models: Object.keys(bad).map((name) => ({ name, live_version: `${name}_v3` })) }));
    api.get<{ Params: { model: string } }>('/api/models/:model/stats', async (req) => {
      const { model } = req.params;
      return { model, live_version: `${model}_v3`, versions: [{ version: `${model}_v3`, requests: 20, good: 2, bad: bad[model], bad_rate: 0.2, since: '2026-01-01T00:00:00Z' }] };
    });
    const url = await listen(api);
    try {
      const r = await run(tsx, [script('feedback-gate.ts'), '--gateway-url', url]);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { trigger: string[]; decisions: { model: string; bad: number; trigger: boolean }[] };
      expect(out.decisions.map((d) => [d.model, d.bad, d.trigger])).toEqual([
        ['model1', 9, true],
        ['model2', 1, false],
      ]);
      expect(out.trigger).toEqual(['model1']);
      const fail = await run(tsx, [script('feedback-gate.ts'), '--gateway-url', url, '--model', 'model1', '--fail-on-trigger']);
      expect(fail.code).toBe(3);
    } finally {
      await api.close();
    }
    const down = await run(tsx, [script('feedback-gate.ts'), '--gateway-url', url]);
    expect(down.code).toBe(1);
  });
});

describe('scripts/pipeline/finetune-trigger.ts (CLI) against an HTTP server answering like the fine-tuning API', () => {
  const TOKEN = 'pipeline-test-token-0123456789';
  let url: string;
  let api: FastifyInstance;
  const received: unknown[] = [];
  const jobs = new Map<string, { polls: number; outcome: 'succeeded' | 'failed'; steps: number }>();

  beforeAll(async () => {
    api = createService({ service: 'fake-finetune', logLevel: 'silent' });
    api.addHook('onRequest', async (req, reply) => {
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return reply.status(401).send({ message: 'bad token' });
    });
    api.post<{ Body: { model: string; steps?: number } }>('/finetune', async (req, reply) => {
      const body = req.body;
      received.push(body);
      const id = `job-${jobs.size + 1}`;
      jobs.set(id, { polls: 0, outcome: body.model === 'model4' ? 'failed' : 'succeeded', steps: body.steps ?? 100 });
      return reply.status(202).send({ id });
    });
    api.get<{ Params: { id: string } }>('/jobs/:id', async (req, reply) => {
      const { id } = req.params;
      const j = jobs.get(id);
      if (!j) return reply.status(404).send({ message: 'no such job' });
      j.polls++;
      const state = j.polls === 1 ? 'queued' : j.polls < 4 ? 'running' : j.outcome;
      const done = state === j.outcome;
      const loss = { total: 1, style: 0.5, content: 0.25, tv: 0.25 };
      return {
        id,
        state,
        step: done ? j.steps : Math.min(j.steps, j.polls * 10),
        steps: j.steps,
        loss: 1 / j.polls,
        result: done && j.outcome === 'succeeded' ? { version: 'model1_v2', published: true, reason: 'gate passed', heldout: { parent: loss, trained: loss } } : null,
        error: done && j.outcome === 'failed' ? 'training diverged' : null,
      };
    });
    url = await listen(api);
  });
  afterAll(async () => {
    await api.close();
  });

  it('posts the options with the bearer token, follows the job and exits 0 on success', async () => {
    const r = await run(
      tsx,
      [script('finetune-trigger.ts'), '--url', url, '--model', 'model1', '--steps', '40', '--batch-size', '2', '--learning-rate', '0.001', '--data', 'both', '--publish', 'canary', '--canary-percent', '20', '--poll-ms', '20'],
      { env: { NST_ADMIN_TOKEN: TOKEN } },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: 'succeeded', step: 40, result: { version: 'model1_v2', published: true } });
    expect(received.at(-1)).toEqual({ model: 'model1', steps: 40, batch_size: 2, learning_rate: 0.001, data: 'both', publish: 'canary', canary_percent: 20 });
    expect(r.stderr).toMatch(/running/);
  });

  it('exits 1 when the job fails, or the token is refused; 2 without a token', async () => {
    const failed = await run(tsx, [script('finetune-trigger.ts'), '--url', url, '--model', 'model4', '--poll-ms', '20'], { env: { NST_ADMIN_TOKEN: TOKEN } });
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.stdout)).toMatchObject({ state: 'failed', error: 'training diverged' });
    const refused = await run(tsx, [script('finetune-trigger.ts'), '--url', url, '--model', 'model1'], { env: { NST_ADMIN_TOKEN: 'wrong-token-wrong-token' } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/401/);
    const none = await run(tsx, [script('finetune-trigger.ts'), '--url', url, '--model', 'model1'], { env: { NST_ADMIN_TOKEN: '' } });
    expect(none.code).toBe(2);
    const badOpt = await run(tsx, [script('finetune-trigger.ts'), '--url', url, '--model', 'model1', '--data', 'everything'], { env: { NST_ADMIN_TOKEN: TOKEN } });
    expect(badOpt.code).toBe(2);
  });
});

describe('scripts/pipeline/smoke-test.ts against the real platform', () => {
  let stack: TestStack | undefined;
  beforeAll(async () => {
    if (!dataMirror()) throw new Error('this test needs NST_DATA_MIRROR (CI sets it to ../shared/data)');
    stack = await startTestStack({ models: ['model1=wave'] });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('checks /health, stylises one photo through the gateway and checks the image', async () => {
    const lines: string[] = [];
    const result = await smokeTest({ baseUrl: stack!.gatewayUrl, log: (l) => lines.push(l) });
    expect(result).toMatchObject({ model: 'model1', version: 'model1_v1' });
    expect(result.width).toBeGreaterThan(0);
    expect(lines.join('\n')).toMatch(/POST \/api\/stylize/);
  });

  it('the feedback gate counts real ratings through the real gateway stats and the real store', async () => {
    // Three clients rate their own results (a rating counts once per output and client).
    for (let i = 0; i < 3; i++) {
      const clientId = `gate-client-${i}`;
      const made = await smokeTest({ baseUrl: stack!.gatewayUrl, model: 'model1', log: () => undefined, clientId });
      const res = await fetch(`${stack!.gatewayUrl}/api/feedback`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-client-id': clientId },
        body: JSON.stringify({ feedback: 'bad', model: 'model1', content_image_filename: made.content_image_filename, output_image_filename: made.output_image_filename, timestamp: new Date().toISOString() }),
      });
      expect(res.status).toBe(201);
    }
    for (const source of [['--gateway-url', stack!.gatewayUrl], ['--storage-dir', stack!.storageDir]]) {
      const over = await run(tsx, [script('feedback-gate.ts'), ...source, '--model', 'model1', '--threshold', '2']);
      expect(over.code, over.stderr).toBe(0);
      expect(JSON.parse(over.stdout)).toMatchObject({ trigger: ['model1'], decisions: [{ model: 'model1', live_version: 'model1_v1', bad: 3, trigger: true }] });
      const under = await run(tsx, [script('feedback-gate.ts'), ...source, '--model', 'model1', '--threshold', '3']);
      expect(JSON.parse(under.stdout)).toMatchObject({ trigger: [] });
    }
  });

  it('the CLI exits 0 on the real stack and 1 where nothing answers', async () => {
    const ok = await run(tsx, [script('smoke-test.ts'), '--base-url', stack!.gatewayUrl, '--model', 'model1']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, model: 'model1' });
    const down = await run(tsx, [script('smoke-test.ts'), '--base-url', 'http://127.0.0.1:9', '--timeout-ms', '3000']);
    expect(down.code).toBe(1);
    const unknownModel = await run(tsx, [script('smoke-test.ts'), '--base-url', stack!.gatewayUrl, '--model', 'model9']);
    expect(unknownModel.code).toBe(1);
    expect(unknownModel.stderr).toMatch(/404/);
  });
});
