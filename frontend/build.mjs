// Bundles the browser UI: src/main.ts → dist/app.js and the operator page
// src/admin/main.ts → dist/admin.js (minified, with source maps), and copies the static
// pages and stylesheet next to them. `pnpm build:frontend` runs this.
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, 'src');
const dist = join(here, 'dist');

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });

const result = await build({
  entryPoints: [
    { in: join(src, 'main.ts'), out: 'app' },
    { in: join(src, 'admin/main.ts'), out: 'admin' },
  ],
  outdir: dist,
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
});

await Promise.all(['index.html', 'admin.html', 'styles.css'].map((f) => copyFile(join(src, f), join(dist, f))));

const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(`frontend: built dist/ (app.js + admin.js + maps ${(bytes / 1024).toFixed(1)} KiB, index.html, admin.html, styles.css)`);
