/** The gateway's configuration, validated once at start-up. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { booleanFlag, parseConfig, port, positiveInt, sharedEnv } from '@nst/common';

const DEFAULT_FRONTEND_DIR = fileURLToPath(new URL('../../../frontend/dist', import.meta.url));

/** `model1=http://host:8001,…`: where each model's inference service listens. */
const urlMap = z.string().transform((s, ctx) => {
  const out: Record<string, string> = {};
  for (const part of s.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const name = part.slice(0, eq).trim();
    const url = part.slice(eq + 1).trim();
    if (eq < 1 || !URL.canParse(url)) {
      ctx.addIssue({ code: 'custom', message: `bad entry "${part}" (expected model=http://host:port)` });
      return z.NEVER;
    }
    out[name] = url.replace(/\/+$/, '');
  }
  return out;
});

const schema = z
  .object({
    ...sharedEnv,
    NST_GATEWAY_PORT: port(8080),
    NST_INFERENCE_URLS: urlMap.optional(),
    /** Bound on one forwarded request; past it the answer is 503 naming the model. */
    NST_INFERENCE_TIMEOUT_MS: positiveInt(60_000),
    NST_MAX_UPLOAD_BYTES: positiveInt(25 * 1024 * 1024),
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
