import { ConfigError, closeOnSignals } from '@nst/common';
import { buildInferenceApp } from './app.ts';
import { loadInferenceConfig } from './config.ts';

try {
  const config = loadInferenceConfig();
  const { app, versions } = await buildInferenceApp(config);
  closeOnSignals(app);
  // Listen first so /health answers while the model loads; /ready says when it is loaded.
  await app.listen({ host: config.NST_HOST, port: config.port });
  await versions.start();
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
}
