/** Entry point: wires the style picker, upload, stylise call, result and feedback together. */
import { ApiError, getUiConfig, listModels, stylize, type ModelInfo, type OutputFormat, type StylizeResult } from './api.ts';
import { byId, prefs, setMessage } from './dom.ts';
import { createFeedback } from './feedback.ts';
import { createPaintingPicker } from './paintingPicker.ts';
import { createProgressDisplay } from './progressDisplay.ts';
import { createStylePicker } from './stylePicker.ts';
import { createUpload } from './upload.ts';

const FORMATS: readonly OutputFormat[] = ['png', 'jpeg', 'webp'];

const el = {
  styleGrid: byId('style-grid', HTMLDivElement),
  styleStatus: byId('style-status', HTMLParagraphElement),
  stylesRetry: byId('styles-retry', HTMLButtonElement),
  fileInput: byId('file-input', HTMLInputElement),
  dropZone: byId('drop-zone', HTMLDivElement),
  dropHint: byId('drop-hint', HTMLSpanElement),
  uploadError: byId('upload-error', HTMLDivElement),
  preview: byId('preview', HTMLElement),
  previewImg: byId('preview-img', HTMLImageElement),
  previewCaption: byId('preview-caption', HTMLElement),
  format: byId('format-select', HTMLSelectElement),
  size: byId('size-select', HTMLSelectElement),
  stylizeBtn: byId('stylize-btn', HTMLButtonElement),
  progress: byId('progress', HTMLDivElement),
  progressBar: byId('progress-bar', HTMLProgressElement),
  status: byId('stylize-status', HTMLParagraphElement),
  error: byId('stylize-error', HTMLDivElement),
  resultCard: byId('result-card', HTMLElement),
  resultHeading: byId('result-heading', HTMLHeadingElement),
  resultProgress: byId('result-progress', HTMLDivElement),
  resultProgressBar: byId('result-progress-bar', HTMLProgressElement),
  resultProgressStatus: byId('result-progress-status', HTMLParagraphElement),
  originalImg: byId('original-img', HTMLImageElement),
  resultImg: byId('result-img', HTMLImageElement),
  resultCaption: byId('result-caption', HTMLElement),
  download: byId('download-link', HTMLAnchorElement),
  resultMeta: byId('result-meta', HTMLSpanElement),
  paintingPanel: byId('painting-panel', HTMLDivElement),
  strength: byId('strength-range', HTMLInputElement),
  strengthValue: byId('strength-value', HTMLOutputElement),
  preserveColors: byId('preserve-colors', HTMLInputElement),
  baBefore: byId('ba-before', HTMLImageElement),
  baAfter: byId('ba-after', HTMLImageElement),
  baRange: byId('ba-range', HTMLInputElement),
  beforeAfter: byId('before-after', HTMLDivElement),
};

/** The arbitrary-style model runs photos whole, up to this size. */
const ARBITRARY_MAX_SIDE = 1024;

let busy = false;
let model: ModelInfo | undefined;

const picker = createStylePicker(el.styleGrid, (m) => {
  model = m;
  el.paintingPanel.hidden = m.kind !== 'arbitrary';
  picker.setPainting(paintings.selected()?.thumbnail_url ?? null);
  updateButton();
});

const paintings = createPaintingPicker(
  { panel: el.paintingPanel, input: byId('painting-input', HTMLInputElement), dropZone: byId('painting-drop', HTMLDivElement), status: byId('painting-status', HTMLParagraphElement), list: byId('painting-list', HTMLDivElement) },
  (p) => {
    picker.setPainting(p?.thumbnail_url ?? null);
    updateButton();
  },
);

const upload = createUpload(
  { input: el.fileInput, dropZone: el.dropZone, hint: el.dropHint, error: el.uploadError, preview: el.preview, previewImg: el.previewImg, caption: el.previewCaption },
  {
    onFile: () => {
      setMessage(el.error, '');
      setMessage(el.status, '');
      updateButton();
    },
  },
);

const underButton = { box: el.progress, bar: el.progressBar, text: el.status };
const besideResult = { box: el.resultProgress, bar: el.resultProgressBar, text: el.resultProgressStatus };
const progress = createProgressDisplay(underButton, besideResult);

const feedback = createFeedback({
  form: byId('feedback-form', HTMLFormElement),
  comment: byId('feedback-comment', HTMLTextAreaElement),
  count: byId('comment-count', HTMLSpanElement),
  submit: byId('feedback-submit', HTMLButtonElement),
  status: byId('feedback-status', HTMLParagraphElement),
});

function updateButton(): void {
  const needsPainting = model?.kind === 'arbitrary' && !paintings.selected();
  const ready = !busy && model !== undefined && upload.file() !== undefined && !needsPainting;
  el.stylizeBtn.disabled = !ready;
}

function setBusy(value: boolean): void {
  busy = value;
  upload.setDisabled(value);
  paintings.setDisabled(value);
  el.styleGrid.closest('fieldset')!.disabled = value;
  el.stylizeBtn.setAttribute('aria-busy', String(value));
  el.stylizeBtn.classList.toggle('loading', value);
  el.stylizeBtn.querySelector('.btn-label')!.textContent = value ? 'Stylising…' : 'Stylise';
  el.resultCard.setAttribute('aria-busy', String(value));
  updateButton();
}

async function loadStyles(): Promise<void> {
  el.stylesRetry.hidden = true;
  el.styleStatus.textContent = 'Loading styles…';
  el.styleStatus.dataset.kind = '';
  try {
    const models = await listModels();
    await paintings.load();
    picker.render(models);
    if (models.length === 0) {
      el.styleStatus.textContent = 'No styles are available right now.';
    } else {
      const live = models.filter((m) => m.live_version).length;
      el.styleStatus.textContent = `${live} style${live === 1 ? '' : 's'} available. Use the arrow keys to move between them.`;
    }
  } catch (err) {
    const message = err instanceof ApiError ? err.message : 'Something went wrong.';
    el.styleStatus.textContent = `Could not load the styles: ${message}`;
    el.styleStatus.dataset.kind = 'error';
    el.stylesRetry.hidden = false;
  }
}

function timestampForFile(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

function extensionOf(filename: string, fallback: string): string {
  const m = /\.([a-z0-9]+)$/i.exec(filename);
  return m ? m[1]!.toLowerCase() : fallback;
}

/** Loads an image before it is shown, so the one on screen is replaced by a whole picture. */
async function preload(url: string): Promise<void> {
  const img = new Image();
  img.src = url;
  await img.decode().catch(() => undefined); // a failure shows as a broken image, as before
}

function showResult(result: StylizeResult, m: ModelInfo, fallbackOriginal: string | undefined): void {
  el.originalImg.onerror = fallbackOriginal
    ? () => {
        el.originalImg.onerror = null;
        el.originalImg.src = fallbackOriginal;
      }
    : null;
  el.originalImg.src = result.input_url;
  el.resultImg.src = result.output_url;
  el.baBefore.src = result.input_url;
  el.baAfter.src = result.output_url;
  el.resultImg.alt = `Your photo in the style of ${m.title} by ${m.artist}`;
  const painting = m.kind === 'arbitrary' ? paintings.selected() : undefined;
  el.resultCaption.textContent = painting ? `Your painting · ${painting.title}` : `${m.title} · ${m.artist}`;

  const ext = extensionOf(result.output_image_filename, 'png');
  el.download.href = result.output_url;
  el.download.download = `nst-${m.style}-${timestampForFile(new Date())}.${ext}`;

  const seconds = (result.timings.total_ms / 1000).toFixed(1);
  const strength = Math.round((result.strength ?? 1) * 100);
  el.resultMeta.textContent = `${result.width}×${result.height} · ${ext.toUpperCase()} · ${seconds} s · strength ${strength}%${result.preserve_colors ? ' · original colours' : ''} · model ${result.version}`;

  feedback.attach(result);
  const wasShown = !el.resultCard.hidden;
  el.resultCard.hidden = false;
  if (wasShown) return; // a re-run from the strength or colour controls: stay where the user is
  el.resultHeading.focus({ preventScroll: true });
  el.resultCard.scrollIntoView({ behavior: window.matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth', block: 'start' });
}

async function runStylize(): Promise<void> {
  const file = upload.file();
  const m = model;
  if (busy || !file || !m) return;
  const format = (FORMATS as readonly string[]).includes(el.format.value) ? (el.format.value as OutputFormat) : 'png';
  const chosenSize = Number(el.size.value) || 1024;
  const arbitrary = m.kind === 'arbitrary';
  const painting = arbitrary ? paintings.selected() : undefined;
  if (arbitrary && !painting) return;
  const maxSize = arbitrary ? Math.min(chosenSize, ARBITRARY_MAX_SIDE) : chosenSize;

  setMessage(el.error, '');
  setBusy(true);
  // The result on screen stays (downloadable, rateable) until the new one is ready; its progress shows beside it too.
  progress.start(`Uploading ${file.name}…`, el.resultCard.hidden ? [underButton] : [underButton, besideResult]);
  const started = performance.now();
  let processing = false;
  const onUploadProgress = (fraction: number): void => {
    if (processing) return;
    if (fraction >= 1) {
      processing = true;
      progress.indeterminate(`Painting your photo in the style of ${m.title}…`);
    } else {
      progress.fraction(fraction);
    }
  };

  try {
    const onTiles = (done: number, total: number): void => {
      progress.steps(done, total);
      progress.say(`Painting your photo: tile ${done} of ${total} done…`);
    };
    const result = await stylize({
      image: file,
      model: m.name,
      maxSize,
      format,
      style: painting?.id,
      strength: Number(el.strength.value),
      preserveColors: el.preserveColors.checked,
      onTiles,
      onUploadProgress,
    });
    progress.say('Loading the result…');
    await Promise.all([preload(result.output_url), preload(result.input_url)]);
    progress.stop();
    showResult(result, m, upload.previewUrl());
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    setMessage(el.status, `Done in ${seconds} s. Your stylised photo is shown below.`);
  } catch (err) {
    progress.stop();
    setMessage(el.status, '');
    const message = err instanceof ApiError ? err.message : err instanceof Error ? err.message : 'Something went wrong.';
    setMessage(el.error, `Could not stylise “${file.name}”: ${message}`);
  } finally {
    setBusy(false);
  }
}

// Output options, remembered between visits.
for (const [select, key] of [
  [el.format, 'format'],
  [el.size, 'maxSize'],
] as const) {
  const saved = prefs.get(key);
  if (saved && Array.from(select.options).some((o) => o.value === saved)) select.value = saved;
  select.addEventListener('change', () => prefs.set(key, select.value));
}

// Strength and colours: shown at once, and applied to the current photo without choosing it again.
const showStrength = (): void => {
  el.strengthValue.textContent = `${Math.round(Number(el.strength.value) * 100)}%`;
};
let rerun: number | undefined;
const rerunSoon = (): void => {
  window.clearTimeout(rerun);
  if (el.resultCard.hidden) return;
  rerun = window.setTimeout(() => void runStylize(), 250);
};
el.strength.addEventListener('input', showStrength);
el.strength.addEventListener('change', rerunSoon);
el.preserveColors.addEventListener('change', rerunSoon);
showStrength();

// Before/after: the stylised image is revealed right of the handle.
const showSplit = (): void => el.beforeAfter.style.setProperty('--split', `${el.baRange.value}%`);
el.baRange.addEventListener('input', showSplit);
showSplit();

el.stylizeBtn.addEventListener('click', () => void runStylize());
el.stylesRetry.addEventListener('click', () => void loadStyles());
document.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && !e.defaultPrevented) {
    e.preventDefault();
    void runStylize();
  }
});

// The server's limits, so that a file it would refuse is refused here at once.
void getUiConfig()
  .then((c) => {
    upload.setMaxBytes(c.max_upload_bytes);
    paintings.setMaxBytes(c.max_style_bytes);
  })
  .catch(() => undefined); // the server still checks, and its message is shown

void loadStyles();
