/** Choosing the photo: file input, drag and drop, paste; shows a preview. */
import { formatBytes } from './dom.ts';

export interface UploadElements {
  input: HTMLInputElement;
  dropZone: HTMLElement;
  preview: HTMLElement;
  previewImg: HTMLImageElement;
  caption: HTMLElement;
}

export interface Upload {
  file(): File | undefined;
  /** The object URL of the chosen file (for showing the original beside the result). */
  previewUrl(): string | undefined;
  setDisabled(disabled: boolean): void;
}

/** Larger than this is refused before uploading (the gateway refuses it anyway, with 413). */
export const MAX_UPLOAD_BYTES = 20 * 1024 * 1024;

export function createUpload(
  els: UploadElements,
  handlers: { onFile: (file: File) => void; onError: (message: string) => void },
): Upload {
  let current: File | undefined;
  let url: string | undefined;
  let disabled = false;

  const accept = (file: File | null | undefined): void => {
    if (!file || disabled) return;
    // Let files with no type through (some systems report none); the server decides.
    if (file.type && !file.type.startsWith('image/')) {
      handlers.onError(`“${file.name}” is not an image. Please choose a JPEG, PNG or WebP photo.`);
      return;
    }
    if (file.size > MAX_UPLOAD_BYTES) {
      handlers.onError(`“${file.name}” is ${formatBytes(file.size)}; the limit is ${formatBytes(MAX_UPLOAD_BYTES)}.`);
      return;
    }
    if (url) URL.revokeObjectURL(url);
    current = file;
    url = URL.createObjectURL(file);
    els.preview.hidden = false;
    els.preview.classList.remove('broken');
    els.previewImg.src = url;
    els.caption.textContent = `${file.name} · ${formatBytes(file.size)}`;
    els.dropZone.classList.add('has-file');
    handlers.onFile(file);
  };

  els.previewImg.addEventListener('load', () => {
    const { naturalWidth: w, naturalHeight: h } = els.previewImg;
    if (current && w > 0) els.caption.textContent = `${current.name} · ${w}×${h} · ${formatBytes(current.size)}`;
  });
  els.previewImg.addEventListener('error', () => {
    if (!current) return;
    els.preview.classList.add('broken');
    els.caption.textContent = `${current.name} · ${formatBytes(current.size)} · the browser cannot preview this file`;
  });

  els.input.addEventListener('change', () => {
    accept(els.input.files?.[0]);
  });

  // Drag and drop onto the zone (and anywhere on the page, so a near miss does not open the file).
  let depth = 0;
  els.dropZone.addEventListener('dragenter', (e) => {
    e.preventDefault();
    depth += 1;
    if (!disabled) els.dropZone.classList.add('dragging');
  });
  els.dropZone.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) els.dropZone.classList.remove('dragging');
  });
  els.dropZone.addEventListener('dragover', (e) => {
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = disabled ? 'none' : 'copy';
  });
  els.dropZone.addEventListener('drop', (e) => {
    e.preventDefault();
    depth = 0;
    els.dropZone.classList.remove('dragging');
    accept(e.dataTransfer?.files[0]);
  });
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());

  // Paste an image from the clipboard (not while typing in a field).
  document.addEventListener('paste', (e) => {
    const target = e.target as HTMLElement | null;
    if (target && (target.tagName === 'TEXTAREA' || target.tagName === 'INPUT')) return;
    const file = Array.from(e.clipboardData?.files ?? []).find((f) => f.type.startsWith('image/'));
    if (file) {
      e.preventDefault();
      accept(file);
    }
  });

  return {
    file: () => current,
    previewUrl: () => url,
    setDisabled(value: boolean) {
      disabled = value;
      els.input.disabled = value;
      els.dropZone.classList.toggle('disabled', value);
    },
  };
}
