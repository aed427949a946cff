/**
 * Picks the TF.js backend for training (NST_FINETUNE_BACKEND): tfjs-node when it is installed
 * and loads (native TensorFlow, every kernel), otherwise the wasm backend with XNNPACK,
 * multi-threaded. `selectTrainingBackend` is the one place a setting becomes a backend.
 *
 * TF.js never enables wasm threads under Node (tfjs#3830), although the Emscripten build
 * supports Node worker_threads. Three things make it work: the feature flag is forced on;
 * the pthread worker script, which TF.js hands over as a Blob URL (Node workers cannot
 * load those), is written to a temp .cjs file that loads the module from node_modules; and
 * the backend caps its pool at "logical cores / 2", so os.cpus() is doubled during start-up.
 */
import { createHash } from 'node:crypto';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { registerWasmTrainingKernels } from './wasmGradients.ts';

/**
 * Values of NST_FINETUNE_BACKEND: onnx (the default: onnxruntime, engine/onnx/), and the TF.js
 * backends auto (node when it loads, else wasm), node, wasm.
 */
export const FINETUNE_BACKENDS = ['onnx', 'auto', 'node', 'wasm'] as const;
type FinetuneBackend = (typeof FINETUNE_BACKENDS)[number];

export interface BackendInfo {
  /** 'tensorflow' (tfjs-node) or 'wasm'. */
  backend: string;
  threads: number;
  /** Why this one: the setting, and for auto what tfjs-node said. */
  reason: string;
}

class BackendUnavailableError extends Error {}

const require = createRequire(import.meta.url);
let current: Promise<BackendInfo> | undefined;

/** tfjs-node started, or why not (not installed, its native binding missing, …). */
async function tryTfjsNode(): Promise<{ ok: true } | { ok: false; why: string }> {
  try {
    // Optional dependency: absent, or without its native binding, where it could not be built.
    const name = '@tensorflow/tfjs-node';
    await import(name);
    if (!(await tf.setBackend('tensorflow'))) return { ok: false, why: 'the tensorflow backend failed to start' };
    return { ok: true };
  } catch (err) {
    return { ok: false, why: (err as Error).message.split('\n')[0]!.slice(0, 300) };
  }
}

/** The pthread worker script, patched to load the threaded module from its file. */
function writeWasmWorkerScript(): string {
  const { wasmWorkerContents } = require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js') as {
    wasmWorkerContents: string;
  };
  const mainScript = require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js');
  const original = 'if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}';
  if (!wasmWorkerContents.includes(original)) throw new Error('unexpected tfjs-backend-wasm worker script; cannot enable threads');
  const patched = wasmWorkerContents.replace(original, `if(true){importScripts(${JSON.stringify(mainScript)})}`);
  // The template literal's "\n" escapes arrive as real newlines, inside string literals.
  const script = patched.replace(/\n/g, '\\n');
  // Named by content, so every training worker (and process) reuses one file.
  const file = path.join(os.tmpdir(), `nst-tfjs-wasm-pthread-${createHash('sha256').update(script).digest('hex').slice(0, 16)}.cjs`);
  if (!existsSync(file)) {
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    writeFileSync(tmp, script);
    renameSync(tmp, file);
  }
  return file;
}

async function initWasm(threads: number, reason: string): Promise<BackendInfo> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (threads > 1) {
    const workerFile = writeWasmWorkerScript();
    const createObjectURL = URL.createObjectURL;
    const cpus = os.cpus;
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    URL.createObjectURL = () => workerFile;
    const real = cpus();
    (os as { cpus: () => os.CpuInfo[] }).cpus = () => Array.from({ length: threads * 2 }, (_, i) => real[i % real.length]!);
    wasm.setThreadsCount(threads);
    try {
      if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to start');
    } finally {
      URL.createObjectURL = createObjectURL;
      (os as { cpus: () => os.CpuInfo[] }).cpus = cpus;
    }
  } else {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to start');
  }
  registerWasmTrainingKernels();
  return { backend: 'wasm', threads: wasm.getThreadsCount(), reason };
}

export interface BackendOptions {
  /** NST_FINETUNE_BACKEND, or 'cpu' (reference checks in tests). */
  prefer?: FinetuneBackend | 'cpu';
  /** wasm (or onnxruntime) threads; default every core. */
  threads?: number;
}

/** The backend a setting selects: auto tries tfjs-node first; node insists on it. */
async function selectTrainingBackend(prefer: Exclude<FinetuneBackend, 'onnx'> | 'cpu', threads: number): Promise<BackendInfo> {
  switch (prefer) {
    case 'cpu':
      await tf.setBackend('cpu');
      return { backend: 'cpu', threads: 1, reason: 'cpu requested (reference checks)' };
    case 'node': {
      const native = await tryTfjsNode();
      if (!native.ok) throw new BackendUnavailableError(`NST_FINETUNE_BACKEND=node but @tensorflow/tfjs-node does not load: ${native.why}`);
      return { backend: 'tensorflow', threads: os.cpus().length, reason: 'NST_FINETUNE_BACKEND=node' };
    }
    case 'auto': {
      const native = await tryTfjsNode();
      if (native.ok) return { backend: 'tensorflow', threads: os.cpus().length, reason: 'auto: @tensorflow/tfjs-node loaded' };
      return initWasm(threads, `auto: @tensorflow/tfjs-node unavailable (${native.why})`);
    }
    case 'wasm':
      return initWasm(threads, 'NST_FINETUNE_BACKEND=wasm');
  }
}

/** Initialises the backend once per thread; later calls return the first result. */
export function initTrainingBackend(opts: BackendOptions = {}): Promise<BackendInfo> {
  // The onnx engine trains without TF.js; asked for a TF.js backend here, it means the automatic pick.
  current ??= selectTrainingBackend(opts.prefer === undefined || opts.prefer === 'onnx' ? 'auto' : opts.prefer, Math.max(1, opts.threads ?? os.availableParallelism()));
  return current;
}
