/**
 * `pnpm models:pull`: builds v1 of every configured model from the pinned pretrained
 * checkpoints (mirror folder NST_DATA_MIRROR, or downloaded from upstream), sha256-verified.
 */
import path from 'node:path';
import { z } from 'zod';
import { ModelStore, createLogger, parseConfig, pullAllPretrained, sharedEnv } from '@nst/common';

const config = parseConfig(z.object({ NST_STORAGE_DIR: sharedEnv.NST_STORAGE_DIR, NST_DATA_MIRROR: sharedEnv.NST_DATA_MIRROR, NST_MODELS: sharedEnv.NST_MODELS }));
const log = createLogger('models-pull');
const loc = { mirror: config.NST_DATA_MIRROR, cacheDir: path.join(config.NST_STORAGE_DIR, 'data-cache') };
log.info({ mirror: loc.mirror ?? null, store: config.NST_STORAGE_DIR }, loc.mirror ? 'reading pretrained checkpoints from the mirror' : 'downloading pretrained checkpoints from upstream');
try {
  for (const r of await pullAllPretrained(new ModelStore(config.NST_STORAGE_DIR), config.NST_MODELS, loc)) {
    log.info({ model: r.model, version: r.version }, r.created ? 'model imported' : 'model already present');
  }
} catch (err) {
  log.error({ err }, (err as Error).message);
  process.exit(1);
}
