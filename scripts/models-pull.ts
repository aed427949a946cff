/**
 * `pnpm models:pull`: builds v1 of every configured model from the pinned pretrained
 * checkpoints (mirror folder NST_DATA_MIRROR, or downloaded from NST_DATA_UPSTREAM), sha256-verified.
 * A file that cannot be fetched or verified stops it with that file's name and URL (exit 1);
 * the model it belongs to is left without any version.
 */
import { z } from 'zod';
import { ModelStore, createLogger, dataLocation, parseConfig, sharedEnv } from '@nst/common';
import { logDownloadProgress, pullAllPretrained } from '@nst/network';

const config = parseConfig(
  z.object({ NST_STORAGE_DIR: sharedEnv.NST_STORAGE_DIR, NST_DATA_MIRROR: sharedEnv.NST_DATA_MIRROR, NST_DATA_UPSTREAM: sharedEnv.NST_DATA_UPSTREAM, NST_MODELS: sharedEnv.NST_MODELS }),
);
const log = createLogger('models-pull');
const loc = { ...dataLocation(config), onProgress: logDownloadProgress(log) };
log.info(
  { mirror: loc.mirror ?? null, upstream: loc.mirror ? null : loc.upstream, store: config.NST_STORAGE_DIR },
  loc.mirror ? 'reading pretrained checkpoints from the mirror' : `downloading pretrained checkpoints from ${loc.upstream}`,
);
const started = performance.now();
try {
  for (const r of await pullAllPretrained(new ModelStore(config.NST_STORAGE_DIR), config.NST_MODELS, loc)) {
    log.info({ model: r.model, version: r.version }, r.created ? 'model imported' : 'model already present');
  }
  log.info({ event: { duration: Math.round((performance.now() - started) * 1e6) } }, `models ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
} catch (err) {
  log.error({ err }, (err as Error).message);
  process.exit(1);
}
