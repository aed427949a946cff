import { ConfigError, closeOnSignals } from '@nst/common';
import { buildFinetuneApp } from './http/app.ts';
import { loadFinetuneConfig } from './config.ts';

try {
  const config = loadFinetuneConfig();
  const { app, adminToken } = await buildFinetuneApp(config);
  closeOnSignals(app);
  await app.listen({ host: config.NST_HOST, port: config.NST_FINETUNE_PORT });
  if (adminToken.file) app.log.info({ admin_token_file: adminToken.file, created: adminToken.created }, `admin token in ${adminToken.file}`);
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
}
