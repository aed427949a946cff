/** The gateway's configuration, validated once at start-up. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { retentionEnv } from './retentionJob.ts';
import { booleanFlag, parseConfig, port, positiveInt, serverLimitsEnv, sharedEnv } from '@nst/common';

const DEFAULT_FRONTEND_DIR = fileURLToPath(new URL('../../../frontend/dist', import.meta.url));

/**
 * `model1=http://host:8001,model2=http://a:8002|http://b:8002`: where each model's inference
 * service listens; several replicas of one model are separated by `|` (requests alternate
 * between them, and one that fails to connect or is stopping is retried on the next).
 */
export const REPLICA_SEPARATOR = '|';
const urlMap = z.string().transform((s, ctx) => {
  const out: Record<string, string> = {};
  for (const part of s.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const name = part.slice(0, eq).trim();
    const urls = part
      .slice(eq + 1)
      .split('|')
      .map((u) => u.trim());
    if (eq < 1 || urls.some((u) => !/^https?:\/\//.test(u) || !URL.canParse(u))) {
      ctx.addIssue({ code: 'custom', message: `bad entry "${part}" (expected model=http://host:port, several separated by |)` });
      return z.NEVER;
    }
    out[name] = urls.map((u) => u.replace(/\/+$/, '')).join(REPLICA_SEPARATOR);
  }
  return out;
});

const schema = z
  .object({
    ...sharedEnv,
    ...serverLimitsEnv,
    NST_GATEWAY_PORT: port(8080),
    NST_INFERENCE_URLS: urlMap.optional(),
    /** Bound on one forwarded request; past it the answer is 503 naming the model. */
    NST_INFERENCE_TIMEOUT_MS: positiveInt(60_000),
    /**
     * Stylise requests forwarded to one model at once: what its inference service runs plus
     * what it queues (NST_INFER_CONCURRENCY + NST_QUEUE_SIZE there). Beyond it the gateway
     * answers 503 + Retry-After at once, and its connection pool per model has this size.
     */
    NST_INFERENCE_MAX_IN_FLIGHT: positiveInt(17),
    NST_MAX_UPLOAD_BYTES: positiveInt(25 * 1024 * 1024),
    /** Uploads received at once (each streams to disk); beyond it 503 + Retry-After. */
    NST_MAX_CONCURRENT_UPLOADS: positiveInt(16),
    /** Whole-process back-pressure (@fastify/under-pressure): event-loop delay that sheds load. */
    NST_MAX_EVENT_LOOP_DELAY_MS: positiveInt(1000),
    /** Requests per minute per client (and NST_RATE_LIMIT_CLIENTS_PER_IP times that per IP); 0 = no limit. */
    NST_RATE_LIMIT_STYLIZE: z.coerce.number().int().min(0).default(30),
    NST_RATE_LIMIT_FEEDBACK: z.coerce.number().int().min(0).default(30),
    NST_RATE_LIMIT_CLIENTS_PER_IP: positiveInt(4),
    /** Fastify trustProxy: true, false, or the proxies' addresses (for the client IP behind nginx). */
    NST_TRUST_PROXY: z
      .string()
      .default('false')
      .transform((v) => (v === 'true' ? true : v === 'false' ? false : v)),
    ...retentionEnv,
    /** Run the retention job daily inside the gateway (the local stack); clusters run it as a CronJob. */
    NST_IMAGE_RETENTION_SCHEDULE: booleanFlag(false),
    NST_MAX_PIXELS: positiveInt(50_000_000),
    NST_MAX_SIDE_LIMIT: positiveInt(4096),
    /** Size cap of an uploaded style image (POST /api/styles or style_image). */
    NST_MAX_STYLE_BYTES: positiveInt(10 * 1024 * 1024),
    NST_SERVE_FRONTEND: booleanFlag(true),
    NST_FRONTEND_DIR: z.string().default(DEFAULT_FRONTEND_DIR).transform((p) => path.resolve(p)),
    NST_FINETUNE_URL: z.string().url().default('http://127.0.0.1:8005'),
    NST_ADMIN_TOKEN: z.string().min(16).optional(),
    /** Automatic canary rule: promote or roll back once both versions have enough ratings. */
    NST_AUTO_DECIDE: booleanFlag(false),
    NST_AUTO_MIN_RATED: positiveInt(20),
    NST_AUTO_MARGIN: z.coerce.number().min(0).max(1).default(0.05),
    /**
     * The gate and the rule count distinct clients: the gate fires only when this many
     * clients rated the live version bad, the rule decides only when this many rated each
     * version. One client cannot steer the loop alone.
     */
    NST_LOOP_MIN_CLIENTS: positiveInt(3),
    /** Feedback gate: over the threshold of bad ratings for the live version, fine-tune and canary. */
    NST_AUTO_FINETUNE: booleanFlag(false),
    NST_FEEDBACK_GATE_THRESHOLD: z.coerce.number().int().min(0).default(5),
    NST_AUTO_CANARY_PERCENT: z.coerce.number().min(1).max(100).default(20),
    /** Training parameters for automatic fine-tunes (JSON, merged into the POST /finetune body). */
    NST_AUTO_FINETUNE_PARAMS: z
      .string()
      .default('{}')
      .transform((s, ctx) => {
        try {
          return JSON.parse(s) as Record<string, unknown>;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'must be a JSON object' });
          return z.NEVER;
        }
      }),
  })
  .transform((c, ctx) => {
    const inferenceUrls: Record<string, string> = {};
    c.NST_MODELS.forEach((m, i) => {
      inferenceUrls[m.name] = c.NST_INFERENCE_URLS?.[m.name] ?? `http://127.0.0.1:${8001 + i}`;
    });
    for (const name of Object.keys(c.NST_INFERENCE_URLS ?? {})) {
      if (!c.NST_MODELS.some((m) => m.name === name)) {
        ctx.addIssue({ code: 'custom', path: ['NST_INFERENCE_URLS'], message: `${name} is not in NST_MODELS` });
        return z.NEVER;
      }
    }
    return { ...c, inferenceUrls };
  });

export type GatewayConfig = z.output<typeof schema>;
export const loadGatewayConfig = (env: NodeJS.ProcessEnv = process.env): GatewayConfig => parseConfig(schema, env);
