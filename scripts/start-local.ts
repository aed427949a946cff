/**
 * `pnpm start`: the whole platform on this machine, no containers. Imports the models on
 * first start, makes an admin token if none is configured, then runs the gateway
 * (UI + API on :8080), one inference service per model (:8001…) and the fine-tuning
 * service (:8005). Logs go to this console. A service that crashes is started again
 * with back-off (and the console says so); only Ctrl-C stops everything.
 */
import { LOCAL_PORTS, localInferencePorts } from '@nst/common/localPorts';
import { mkdir } from 'node:fs/promises';
import { z } from 'zod';
import { ModelStore, createLogger, dataLocation, ensureAdminToken, parseConfig, port, sharedEnv } from '@nst/common';
import { logDownloadProgress, pullAllPretrained } from '@nst/network';
import { DEFAULT_RESTART, RunningStack, stackServices } from './lib/stack.ts';

const config = parseConfig(
  z.object({
    ...sharedEnv,
    NST_GATEWAY_PORT: port(LOCAL_PORTS.gateway),
    NST_FINETUNE_PORT: port(LOCAL_PORTS.finetune),
    /** First inference port; the models take the next ports that the gateway and fine-tuning do not. */
    NST_INFERENCE_BASE_PORT: port(LOCAL_PORTS.firstInference),
    NST_ADMIN_TOKEN: z.string().min(16).optional(),
  }),
);
const log = createLogger('local-stack');

async function main(): Promise<void> {
  await mkdir(config.NST_STORAGE_DIR, { recursive: true });
  const store = new ModelStore(config.NST_STORAGE_DIR);
  const loc = { ...dataLocation(config), onProgress: logDownloadProgress(log) };
  for (const r of await pullAllPretrained(store, config.NST_MODELS, loc)) {
    if (r.created) log.info({ model: r.model, version: r.version }, 'model imported');
  }
  const admin = await ensureAdminToken(config.NST_STORAGE_DIR, config.NST_ADMIN_TOKEN);
  if (admin.file) log.info({ file: admin.file }, admin.created ? 'admin token generated; it is in this file' : 'admin token is in this file');

  const stack = new RunningStack(
    stackServices({
      storageDir: config.NST_STORAGE_DIR,
      models: config.NST_MODELS,
      gatewayPort: config.NST_GATEWAY_PORT,
      inferencePorts: localInferencePorts(config.NST_MODELS.length, { first: config.NST_INFERENCE_BASE_PORT, taken: [config.NST_GATEWAY_PORT, config.NST_FINETUNE_PORT] }),
      finetunePort: config.NST_FINETUNE_PORT,
      host: config.NST_HOST,
      env: {
        NST_IMAGE_RETENTION_SCHEDULE: 'true',
        ...(config.NST_DATA_MIRROR ? { NST_DATA_MIRROR: config.NST_DATA_MIRROR } : {}),
        ...(config.NST_ADMIN_TOKEN ? {} : { NST_ADMIN_TOKEN: admin.token }),
      },
    }),
    DEFAULT_RESTART,
  );
  let shuttingDown = false;
  const shutdown = async (code: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info('stopping every service');
    await stack.stop();
    process.exit(code);
  };
  stack.onExit = (service, code, signal) => {
    log.error({ service: { name: service }, process: { exit_code: code }, signal }, `${service} exited (${signal ?? `code ${code}`})`);
  };
  stack.onRestart = (service, delayMs, restarts) => {
    log.warn({ service: { name: service }, nst: { event: 'service_restart', delay_ms: delayMs, restarts } }, `restarting ${service} in ${delayMs} ms (crash ${restarts} in a row)`);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  stack.start('inherit');
  await stack.waitReady(120_000);
  log.info({ url: `http://localhost:${config.NST_GATEWAY_PORT}` }, `NST platform ready: open http://localhost:${config.NST_GATEWAY_PORT}`);
}

main().catch((err: Error) => {
  log.error({ err }, err.message);
  process.exit(1);
});
