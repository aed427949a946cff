/** What the gateway's routes share, built once in app.ts. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { FeedbackStats, LineAppender, ModelStore, RoutingStore, StyleImages, modelKind } from '@nst/common';
import path from 'node:path';
import type { GatewayConfig } from './config.ts';
import { ImageStore } from './imageStore.ts';
import { InferenceClient } from './inferenceClient.ts';
import { VersionResolver } from './versionResolver.ts';

export function createContext(config: GatewayConfig, registry: Registry) {
  const registers = [registry];
  const metrics = {
    stylizeRequests: new Counter({ name: 'nst_stylize_requests_total', help: 'Stylise requests by model, version and status', labelNames: ['model', 'version', 'status'] as const, registers }),
    stylizeSeconds: new Histogram({
      name: 'nst_stylize_duration_seconds',
      help: 'End-to-end stylise time at the gateway, by model and version',
      labelNames: ['model', 'version'] as const,
      buckets: [0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32],
      registers,
    }),
    feedback: new Counter({ name: 'nst_feedback_total', help: 'Feedback by rating, model and version', labelNames: ['rating', 'model', 'version'] as const, registers }),
    upstreamErrors: new Counter({ name: 'nst_upstream_errors_total', help: 'Failed calls to inference services by model and reason', labelNames: ['model', 'reason'] as const, registers }),
  };
  const store = new ModelStore(config.NST_STORAGE_DIR);
  const routing = new RoutingStore(store);
  const feedbackFile = path.join(config.NST_STORAGE_DIR, 'feedback.jsonl');
  const requestsFile = path.join(config.NST_STORAGE_DIR, 'requests.jsonl');
  new Gauge({
    name: 'nst_model_traffic_percent',
    help: 'Share of traffic each model version receives (live and canary candidate)',
    labelNames: ['model', 'version', 'role'] as const,
    registers,
    async collect() {
      this.reset();
      for (const m of config.NST_MODELS) {
        const [live, policy] = await Promise.all([store.latest(m.name), routing.policy(m.name)]);
        const canary = policy.candidate && policy.candidate !== live ? policy.percent : 0;
        if (live) this.set({ model: m.name, version: live, role: 'live' }, 100 - canary);
        if (canary > 0) this.set({ model: m.name, version: policy.candidate!, role: 'canary' }, canary);
      }
    },
  });
  return {
    config,
    store,
    metrics,
    images: new ImageStore(config.NST_STORAGE_DIR),
    styles: new StyleImages(config.NST_STORAGE_DIR),
    routing,
    resolver: new VersionResolver(store, routing),
    stats: new FeedbackStats(feedbackFile, requestsFile),
    /** One line per served stylise request: the per-version request counts. */
    requestLog: new LineAppender(requestsFile),
    inference: new InferenceClient(config.inferenceUrls, config.NST_INFERENCE_TIMEOUT_MS, (model, reason) => metrics.upstreamErrors.labels(model, reason).inc()),
    feedbackLog: new LineAppender(feedbackFile),
    feedbackFile,
    modelNames: new Set(config.NST_MODELS.map((m) => m.name)),
    arbitraryModels: new Set(config.NST_MODELS.filter((m) => modelKind(m) === 'arbitrary').map((m) => m.name)),
  };
}
export type GatewayContext = ReturnType<typeof createContext>;
