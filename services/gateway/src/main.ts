import { mkdir } from 'node:fs/promises';
import { ConfigError, closeOnSignals } from '@nst/common';
import { buildGatewayApp } from './app.ts';
import { loadGatewayConfig } from './config.ts';

try {
  const config = loadGatewayConfig();
  await mkdir(config.NST_STORAGE_DIR, { recursive: true });
  const { app } = await buildGatewayApp(config);
  closeOnSignals(app);
  await app.listen({ host: config.NST_HOST, port: config.NST_GATEWAY_PORT });
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
}
