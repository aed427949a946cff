// Bundles the browser UI: src/main.ts → dist/app-<hash>.js and the operator page
// src/admin/main.ts → dist/admin-<hash>.js, the stylesheets src/styles/{base,index,admin}.css
// → dist/<name>-<hash>.css (all minified, with source maps), and the pages with those names
// written in: each page links base.css and its own sheet only. `pnpm build:frontend`
// runs this. Content-hashed names change with every change of content, so servers cache them
// for a year (immutable) and only the pages, which are never cached, say what is current.
import { build } from 'esbuild';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, 'src');
const dist = join(here, 'dist');

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });

const entryPoints = [
  { in: join(src, 'main.ts'), out: 'app' },
  { in: join(src, 'admin/main.ts'), out: 'admin' },
  // Shared tokens, layout and controls; then one sheet per page.
  { in: join(src, 'styles/base.css'), out: 'base' },
  { in: join(src, 'styles/index.css'), out: 'index' },
  { in: join(src, 'styles/admin.css'), out: 'admin' },
];
const result = await build({
  entryPoints,
  outdir: dist,
  // Eight characters of A-Z0-9, like esbuild's hashes: the pattern the servers recognise.
  entryNames: '[name]-[hash]',
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

/** Built name of each entry ("app.js" → "app-XXXXXXXX.js", "index.css" → "index-XXXXXXXX.css"). */
const names = {};
for (const [file, out] of Object.entries(result.metafile.outputs)) {
  const entry = out.entryPoint && entryPoints.find((e) => e.in === resolve(out.entryPoint));
  if (entry) names[`${entry.out}${extname(entry.in) === '.css' ? '.css' : '.js'}`] = basename(file);
}

for (const page of ['index.html', 'admin.html']) {
  let html = await readFile(join(src, page), 'utf8');
  for (const [plain, hashed] of Object.entries(names)) {
    const ref = new RegExp(`(src|href)="${plain.replace('.', '\\.')}"`, 'g');
    html = html.replace(ref, `$1="${hashed}"`);
  }
  await writeFile(join(dist, page), html);
}
const pages = await Promise.all(['index.html', 'admin.html'].map((p) => readFile(join(dist, p), 'utf8')));
for (const hashed of Object.values(names)) if (!pages.some((p) => p.includes(`"${hashed}"`))) throw new Error(`no page references ${hashed}`);

const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(`frontend: built dist/ (${Object.values(names).join(', ')} + maps, ${(bytes / 1024).toFixed(1)} KiB; index.html, admin.html)`);
