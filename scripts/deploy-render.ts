/**
 * `pnpm deploy:render`: writes the per-model parts of the deployment artefacts from the model
 * list (see scripts/lib/deployRender.ts). `--check` writes nothing and exits 1 when a file is
 * not what the list renders to; `--models FILE` renders another list, `--root DIR` a copy of
 * the repository's deployment files.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { RENDERED_FILES, ROOT, readModelList, renderArtefacts } from './lib/deployRender.ts';

const { values } = parseArgs({ options: { check: { type: 'boolean', default: false }, models: { type: 'string' }, root: { type: 'string' } } });
const root = path.resolve(values.root ?? ROOT);
const models = readModelList(values.models ? path.resolve(values.models) : undefined);
const rendered = renderArtefacts(models, root);
const stale: string[] = [];
for (const file of RENDERED_FILES) {
  const target = path.join(root, file);
  const current = (() => {
    try {
      return readFileSync(target, 'utf8');
    } catch {
      return '';
    }
  })();
  if (current === rendered[file]) continue;
  stale.push(file);
  if (!values.check) writeFileSync(target, rendered[file]!);
}
if (values.check && stale.length) {
  console.error(`not rendered from the model list: ${stale.join(', ')}; run pnpm deploy:render`);
  process.exit(1);
}
console.log(values.check ? `${RENDERED_FILES.length} files match the list of ${models.length} models` : `rendered ${models.length} models into ${stale.length ? stale.join(', ') : 'nothing (already current)'}`);
