/**
 * The monitoring configuration with Debian's Prometheus: promtool checks the scrape
 * configuration, then a real Prometheus scrapes the real gateway and inference service (started by
 * tests/support/stack.ts, after one real stylisation and one rating) and evaluates every query of
 * the Grafana dashboard — each must parse, and the ones about what just happened must have data.
 * Debian builds Prometheus without Kubernetes service discovery, so for promtool the
 * kubernetes_sd_configs block is swapped for an empty static list (relabelling is still checked).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { smokeTest } from '../../scripts/pipeline/smoke-test.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { freePort } from '../../scripts/lib/stack.ts';
import { readText, run, runOk } from './tools.ts';

type ScrapeConfig = { job_name: string; kubernetes_sd_configs?: unknown; static_configs?: { targets: string[] }[]; relabel_configs?: unknown[]; metrics_path?: string };
const config = () => parse(readText('k8s/monitoring/prometheus/prometheus.yml')) as { global: Record<string, string>; scrape_configs: ScrapeConfig[] };

describe("Prometheus (Debian's) with the NST scrape configuration and Grafana queries", () => {
  let dir: string;
  let stack: TestStack;
  let prom: ChildProcess | undefined;
  let promUrl: string;
  let promLog = '';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'nst-prom-'));
    stack = await startTestStack({ models: ['model1=wave'] });
    const made = await smokeTest({ baseUrl: stack.gatewayUrl, model: 'model1', log: () => undefined, clientId: 'prometheus-test' });
    const fb = await fetch(`${stack.gatewayUrl}/api/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-client-id': 'prometheus-test' },
      body: JSON.stringify({ feedback: 'good', model: 'model1', content_image_filename: made.content_image_filename, output_image_filename: made.output_image_filename, timestamp: new Date().toISOString() }),
    });
    expect(fb.status).toBe(201);

    // The compose job of our configuration, pointed at the real services on loopback.
    const c = config();
    const compose = c.scrape_configs.find((s) => s.job_name === 'nst-compose')!;
    const targets = [stack.gatewayUrl, stack.inferenceUrls.model1!].map((u) => new URL(u).host);
    const live = { global: { ...c.global, scrape_interval: '1s', evaluation_interval: '1s' }, scrape_configs: [{ ...compose, static_configs: [{ targets }] }] };
    await writeFile(path.join(dir, 'prometheus.yml'), stringify(live));
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prom = spawn('prometheus', [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    prom.stderr!.on('data', (d) => (promLog += d));
    const deadline = Date.now() + 60_000;
    for (;;) {
      const up = await query('sum(up{job="nst-compose"})').catch(() => null);
      if (up && up.length > 0 && Number(up[0]!.value[1]) === targets.length) break;
      if (Date.now() > deadline || prom.exitCode !== null) throw new Error(`Prometheus did not scrape both services: ${promLog.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    // Two more scrapes, so rate() over the dashboards' windows has samples.
    await new Promise((r) => setTimeout(r, 2500));
  }, 240_000);

  afterAll(async () => {
    if (prom && prom.exitCode === null) {
      prom.kill('SIGTERM');
      await new Promise((r) => prom!.once('exit', r));
    }
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  async function query(q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    if (body.status !== 'success') throw new Error(`${q}: ${body.error}`);
    return body.data!.result;
  }

  it('promtool accepts the scrape configuration', async () => {
    const c = config();
    for (const s of c.scrape_configs) {
      if (s.kubernetes_sd_configs) {
        delete s.kubernetes_sd_configs;
        s.static_configs = [{ targets: [] }];
      }
    }
    const file = path.join(dir, 'checked.yml');
    await writeFile(file, stringify(c));
    const r = await runOk('promtool', ['check', 'config', file]);
    expect(r.stdout + r.stderr).toMatch(/SUCCESS/);
    const broken = path.join(dir, 'broken.yml');
    await writeFile(broken, stringify({ scrape_configs: [{ job_name: 'x', relabel_configs: [{ action: 'keep', regex: '(' }] }] }));
    expect((await run('promtool', ['check', 'config', broken])).code).not.toBe(0);
  });

  it('every Grafana query parses and runs in Prometheus', async () => {
    const dash = JSON.parse(readText('k8s/monitoring/grafana/nst-dashboard.json')) as { panels: { title: string; targets: { expr: string }[] }[] };
    // Grafana's "All" for the model variable is .*; with it the per-model panels have data.
    const withAll = (expr: string) => expr.replaceAll('$model', '.*');
    for (const p of dash.panels) for (const t of p.targets) await expect(query(withAll(t.expr)), `${p.title}: ${t.expr}`).resolves.toBeInstanceOf(Array);
    for (const title of ['Stylise requests/s by model, version and status', 'Live model version']) {
      const p = dash.panels.find((x) => x.title === title)!;
      expect((await query(withAll(p.targets[0]!.expr))).length, title).toBeGreaterThan(0);
    }
    await expect(query('sum by (model (nst_feedback_total)')).rejects.toThrow(/parse error/);
  });

  it('the metrics the dashboard plots are there, with the labels it groups by', async () => {
    const has = async (q: string) => expect((await query(q)).length, q).toBeGreaterThan(0);
    await has('sum by (model, version, status) (nst_stylize_requests_total{status="200"})');
    await has('sum by (le, model, version) (nst_stylize_duration_seconds_bucket)');
    await has('sum by (le, model, version) (nst_inference_duration_seconds_bucket)');
    await has('sum by (model, version) (nst_inference_image_pixels_count)');
    await has('sum by (le, model) (nst_inference_queue_seconds_bucket)');
    await has('sum by (model) (nst_inference_queue_depth)');
    await has('max by (model, version) (nst_model_live_info)');
    await has('sum by (model, version) (nst_model_load_seconds_count)');
    await has('sum by (rating, model, version) (nst_feedback_total{rating="good"})');
    await has('sum by (service, route) (http_request_duration_seconds_count{route="/api/stylize"})');
    await has('sum by (service) (process_resident_memory_bytes)');
    const services = (await query('count by (service) (http_request_duration_seconds_count)')).map((r) => r.metric.service).sort();
    expect(services).toEqual(['gateway', 'inference-model1']);
  });
});
