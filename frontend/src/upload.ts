/**
 * Choosing the photo: file input, drag and drop, paste; shows a preview. A file is taken
 * only once the browser has decoded it and it is within the server's limit; a refused
 * one leaves the photo chosen before in place, and says why beside the drop zone.
 */
import { formatBytes } from './dom.ts';

export interface UploadElements {
  input: HTMLInputElement;
  dropZone: HTMLElement;
  hint: HTMLElement;
  error: HTMLElement;
  preview: HTMLElement;
  previewImg: HTMLImageElement;
  caption: HTMLElement;
}

export interface Upload {
  file(): File | undefined;
  /** The object URL of the chosen file (for showing the original beside the result). */
  previewUrl(): string | undefined;
  setDisabled(disabled: boolean): void;
  /** The server's limit (GET /api/config); until it is known the server alone checks sizes. */
  setMaxBytes(bytes: number): void;
}

/** Decodes the image fully (not just its header), as the preview would. */
async function decodes(url: string): Promise<{ width: number; height: number } | null> {
  const img = new Image();
  img.src = url;
  try {
    await img.decode();
    return img.naturalWidth > 0 ? { width: img.naturalWidth, height: img.naturalHeight } : null;
  } catch {
    return null;
  }
}

export function createUpload(els: UploadElements, handlers: { onFile: (file: File) => void }): Upload {
  let current: File | undefined;
  let url: string | undefined;
  let disabled = false;
  let maxBytes: number | undefined;
  /** The latest file offered: a slower check of an earlier one must not win over it. */
  let offered = 0;

  const showError = (text: string): void => {
    els.error.textContent = text;
    els.error.hidden = text === '';
    els.dropZone.classList.toggle('refused', text !== '');
  };

  const refuse = (why: string): void => {
    // The input now holds the refused file; clear it so choosing it again is seen as a change.
    els.input.value = '';
    showError(`${why}${current ? ` Still using “${current.name}”.` : ''}`);
  };

  const accept = async (file: File | null | undefined): Promise<void> => {
    if (!file || disabled) return;
    const turn = ++offered;
    // Let files with no type through (some systems report none); decoding decides.
    if (file.type && !file.type.startsWith('image/')) {
      refuse(`“${file.name}” is not an image. Please choose a JPEG, PNG or WebP photo.`);
      return;
    }
    if (maxBytes !== undefined && file.size > maxBytes) {
      refuse(`“${file.name}” is ${formatBytes(file.size)}; the limit is ${formatBytes(maxBytes)}.`);
      return;
    }
    const candidate = URL.createObjectURL(file);
    const size = await decodes(candidate);
    if (turn !== offered) {
      URL.revokeObjectURL(candidate);
      return;
    }
    if (!size) {
      URL.revokeObjectURL(candidate);
      refuse(`“${file.name}” cannot be read as an image. Please choose a JPEG, PNG or WebP photo.`);
      return;
    }
    if (url) URL.revokeObjectURL(url);
    current = file;
    url = candidate;
    showError('');
    els.preview.hidden = false;
    els.previewImg.src = url;
    els.caption.textContent = `${file.name} · ${size.width}×${size.height} · ${formatBytes(file.size)}`;
    els.dropZone.classList.add('has-file');
    handlers.onFile(file);
  };

  els.input.addEventListener('change', () => void accept(els.input.files?.[0]));

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
    void accept(e.dataTransfer?.files[0]);
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
      void accept(file);
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
    setMaxBytes(bytes: number) {
      maxBytes = bytes;
      els.hint.textContent = `JPEG, PNG or WebP, up to ${formatBytes(bytes)}. You can also paste an image.`;
    },
  };
}
