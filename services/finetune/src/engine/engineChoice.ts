/**
 * Which engine trains: onnxruntime (`onnx`, the default) or TF.js (`node`, `wasm`, `auto`:
 * see tfBackend.ts). Read from NST_FINETUNE_BACKEND unless the caller names a
 * backend itself (tests and the TF.js reference checks do).
 */
import type { BackendOptions } from './tfBackend.ts';

export const ENGINE_ENV = 'NST_FINETUNE_BACKEND';

export function usesOnnxEngine(backend: BackendOptions, env: NodeJS.ProcessEnv = process.env): boolean {
  const prefer = (backend as { prefer?: string }).prefer;
  if (prefer !== undefined) return prefer === 'onnx';
  const chosen = env[ENGINE_ENV]?.trim();
  return !chosen || chosen === 'onnx';
}
