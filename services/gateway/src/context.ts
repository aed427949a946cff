/** What the gateway's routes share, built once in app.ts. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { ModelStore, ReleaseOwner, StyleImages, modelKind, type PlatformStore } from '@nst/common';
import type { FastifyBaseLogger } from 'fastify';
import type { GatewayConfig } from './config.ts';
import { ImageStore } from './imageStore.ts';
import { InferenceClient } from './inferenceClient.ts';
import { VersionResolver } from './versionResolver.ts';

/** What the routes ask of the inference services (InferenceClient; an in-process stand-in in unit tests). */
export type Inference = Pick<InferenceClient, 'infer' | 'ready' | 'checkCapacity' | 'close'>;

export function createContext(config: GatewayConfig, registry: Registry, platform: PlatformStore, log: FastifyBaseLogger, inference?: Inference) {
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
  new Gauge({
    name: 'nst_model_traffic_percent',
    help: 'Share of traffic each model version receives (live and canary candidate)',
    labelNames: ['model', 'version', 'role'] as const,
    registers,
    async collect() {
      this.reset();
      for (const m of config.NST_MODELS) {
        const [live, policy] = await Promise.all([store.latest(m.name), platform.policy(m.name)]);
        const canary = policy.candidate && policy.candidate !== live ? policy.percent : 0;
        if (live) this.set({ model: m.name, version: live, role: 'live' }, 100 - canary);
        if (canary > 0) this.set({ model: m.name, version: policy.candidate!, role: 'canary' }, canary);
      }
    },
  });
  new Gauge({
    name: 'nst_store_up',
    help: 'Whether the platform store (file or postgres backend) can be used: 1 yes, 0 no',
    labelNames: ['backend'] as const,
    registers,
    async collect() {
      this.reset();
      const h = await platform.health();
      this.set({ backend: h.backend }, h.ok ? 1 : 0);
    },
  });
  return {
    config,
    store,
    metrics,
    images: new ImageStore(config.NST_STORAGE_DIR),
    /** Ratings, served requests, routing policy and release history (files or PostgreSQL). */
    platform,
    /** The only writer of latest.txt, the canary policy and the history. */
    release: new ReleaseOwner(store, platform, log),
    resolver: new VersionResolver(store, platform),
    inference:
      inference ??
      new InferenceClient(config.inferenceUrls, config.NST_INFERENCE_TIMEOUT_MS, (model, reason) => metrics.upstreamErrors.labels(model, reason).inc(), config.NST_INFERENCE_MAX_IN_FLIGHT),
    styles: new StyleImages(config.NST_STORAGE_DIR),
    modelNames: new Set(config.NST_MODELS.map((m) => m.name)),
    arbitraryModels: new Set(config.NST_MODELS.filter((m) => modelKind(m) === 'arbitrary').map((m) => m.name)),
  };
}
export type GatewayContext = ReturnType<typeof createContext>;
