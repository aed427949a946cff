/**
 * `pnpm models:pull`: builds v1 of every configured model from the pinned pretrained
 * checkpoints (mirror folder NST_DATA_MIRROR, or downloaded from upstream), sha256-verified.
 */
import path from 'node:path';
import { z } from 'zod';
import { ModelStore, createLogger, parseConfig, pullPretrained, sharedEnv } from '@nst/common';

const config = parseConfig(z.object({ NST_STORAGE_DIR: sharedEnv.NST_STORAGE_DIR, NST_DATA_MIRROR: sharedEnv.NST_DATA_MIRROR, NST_MODELS: sharedEnv.NST_MODELS }));
const log = createLogger('models-pull');

export async function pullAll(): Promise<void> {
  const store = new ModelStore(config.NST_STORAGE_DIR);
  const loc = { mirror: config.NST_DATA_MIRROR, cacheDir: path.join(config.NST_STORAGE_DIR, 'data-cache') };
  log.info({ mirror: loc.mirror ?? null, store: store.root }, loc.mirror ? 'reading pretrained checkpoints from the mirror' : 'downloading pretrained checkpoints from upstream');
  for (const spec of config.NST_MODELS) {
    const r = await pullPretrained(store, spec, loc);
    log.info({ model: r.model, style: spec.style, version: r.version }, r.created ? 'model imported' : 'model already present');
  }
}

pullAll().catch((err: Error) => {
  log.error({ err }, err.message);
  process.exit(1);
});
