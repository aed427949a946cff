/**
 * The real platform for tests: a temporary model store imported from the data mirror
 * (NST_DATA_MIRROR) or upstream, and the real services on free loopback ports.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ModelStore, STYLES } from '@nst/common';
import { pullAllPretrained } from '@nst/network';
import { RunningStack, freePort, stackServices, type RestartPolicy, type StackOptions } from '../../scripts/lib/stack.ts';

export const DEFAULT_TEST_MODELS = ['model1=wave', 'model2=udnie', 'model3=scream', 'model4=rain_princess'];

export interface TestStack {
  gatewayUrl: string;
  /** Every gateway process, the first being gatewayUrl. */
  gatewayUrls: string[];
  storageDir: string;
  store: ModelStore;
  stack: RunningStack;
  inferenceUrls: Record<string, string>;
  finetuneUrl?: string;
  adminToken: string;
  /** Log lines captured from the services (service name, raw line). */
  logs: { service: string; line: string }[];
  stop(): Promise<void>;
}

export interface TestStackOptions {
  /** `name=style` entries; defaults to the four default models. */
  models?: string[];
  withFinetune?: boolean;
  env?: Record<string, string>;
  /** Reuse an existing store (e.g. one prepared by the test) instead of a new temp one. */
  storageDir?: string;
  /** How many gateway processes share the store (default 1). */
  gateways?: number;
  /** How many inference processes a model gets (default 1 each). */
  inferenceReplicas?: Record<string, number>;
  /** Start a crashed service again, as `pnpm start` does. */
  restart?: RestartPolicy;
}

export function dataMirror(): string | undefined {
  return process.env.NST_DATA_MIRROR || undefined;
}

/** A real photo from the content set (val split) by index. */
export async function contentPhoto(index = 0, split: 'val' | 'train' = 'val'): Promise<string> {
  const mirror = dataMirror();
  if (!mirror) throw new Error('tests need NST_DATA_MIRROR (CI sets it to ../shared/data)');
  const dir = path.join(mirror, 'images/content', split);
  const files = (await readdir(dir)).filter((f) => f.endsWith('.jpg')).sort();
  return path.join(dir, files[index % files.length]!);
}

export async function startTestStack(o: TestStackOptions = {}): Promise<TestStack> {
  const models = (o.models ?? DEFAULT_TEST_MODELS).map((e) => {
    const [name, style] = e.split('=');
    if (!name || !style || !(style in STYLES)) throw new Error(`bad test model ${e}`);
    return { name, style };
  });
  const storageDir = o.storageDir ?? (await mkdtemp(path.join(tmpdir(), 'nst-test-')));
  const store = new ModelStore(storageDir);
  await pullAllPretrained(store, models, { mirror: dataMirror(), cacheDir: path.join(storageDir, 'data-cache') });
  const adminToken = 'test-admin-token-0123456789abcdef';
  const opts: StackOptions = {
    storageDir,
    models,
    gatewayPort: await freePort(),
    inferencePorts: await Promise.all(models.map(() => freePort())),
    finetunePort: o.withFinetune ? await freePort() : undefined,
    extraGatewayPorts: await Promise.all(Array.from({ length: (o.gateways ?? 1) - 1 }, () => freePort())),
    extraInferencePorts: Object.fromEntries(
      await Promise.all(Object.entries(o.inferenceReplicas ?? {}).map(async ([m, n]) => [m, await Promise.all(Array.from({ length: n - 1 }, () => freePort()))] as const)),
    ),
    env: {
      NST_ADMIN_TOKEN: adminToken,
      NST_ORT_THREADS: '1',
      LOG_LEVEL: 'info',
      // Tests send many requests from one address; the rate limit tests switch them on.
      NST_RATE_LIMIT_STYLIZE: '0',
      NST_RATE_LIMIT_FEEDBACK: '0',
      ...(dataMirror() ? { NST_DATA_MIRROR: dataMirror()! } : {}),
      ...o.env,
    },
  };
  const services = stackServices(opts);
  const stack = new RunningStack(services, o.restart ?? null);
  const logs: TestStack['logs'] = [];
  stack.start((service, line) => {
    logs.push({ service, line });
    if (process.env.NST_TEST_LOGS) console.log(`[${service}] ${line}`);
  });
  try {
    await stack.waitReady(90_000);
  } catch (err) {
    await stack.stop();
    const tail = logs.slice(-20).map((l) => `[${l.service}] ${l.line}`).join('\n');
    throw new Error(`${(err as Error).message}\n${tail}`);
  }
  const byName = Object.fromEntries(services.map((s) => [s.name, s.url]));
  return {
    gatewayUrl: byName.gateway!,
    gatewayUrls: services.filter((x) => x.name.startsWith('gateway')).map((x) => x.url),
    storageDir,
    store,
    stack,
    inferenceUrls: Object.fromEntries(models.map((m) => [m.name, byName[`inference-${m.name}`]!])),
    finetuneUrl: byName.finetune,
    adminToken,
    logs,
    async stop() {
      await stack.stop();
      if (!o.storageDir && !process.env.NST_KEEP_TEST_STORE) await rm(storageDir, { recursive: true, force: true });
    },
  };
}
