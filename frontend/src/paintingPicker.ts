/** "Your painting": upload (or drop) a painting for the arbitrary-style model, and reuse earlier ones. */
import { ApiError, listStyles, uploadStyle, type StyleImage } from './api.ts';
import { formatBytes, prefs, setMessage } from './dom.ts';

export interface PaintingPicker {
  selected(): StyleImage | undefined;
  load(): Promise<void>;
  setDisabled(disabled: boolean): void;
  /** The server's limit for a painting (GET /api/config). */
  setMaxBytes(bytes: number): void;
}

interface Elements {
  panel: HTMLElement;
  input: HTMLInputElement;
  dropZone: HTMLElement;
  status: HTMLElement;
  list: HTMLElement;
}

export function createPaintingPicker(el: Elements, onChange: (painting: StyleImage | undefined) => void): PaintingPicker {
  let paintings: StyleImage[] = [];
  let current: StyleImage | undefined;
  let maxBytes: number | undefined;

  const select = (p: StyleImage | undefined): void => {
    current = p;
    if (p) prefs.set('painting', p.id);
    for (const b of el.list.querySelectorAll<HTMLButtonElement>('.painting-item')) b.setAttribute('aria-checked', String(b.dataset.id === p?.id));
    onChange(p);
  };

  const render = (): void => {
    el.list.replaceChildren(
      ...paintings.map((p) => {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'painting-item';
        b.dataset.id = p.id;
        b.setAttribute('role', 'radio');
        b.setAttribute('aria-checked', String(p.id === current?.id));
        b.setAttribute('aria-label', p.title);
        b.title = p.title;
        const img = document.createElement('img');
        img.src = p.thumbnail_url;
        img.alt = '';
        b.append(img);
        b.addEventListener('click', () => select(p));
        return b;
      }),
    );
  };

  const upload = async (file: File): Promise<void> => {
    if (!file.type.startsWith('image/')) {
      setMessage(el.status, `“${file.name}” is not an image.`);
      return;
    }
    if (maxBytes !== undefined && file.size > maxBytes) {
      setMessage(el.status, `“${file.name}” is ${formatBytes(file.size)}; the limit for a painting is ${formatBytes(maxBytes)}.`);
      return;
    }
    setMessage(el.status, `Uploading ${file.name}…`);
    try {
      const p = await uploadStyle(file, file.name.replace(/\.[a-z0-9]+$/i, ''));
      paintings = [p, ...paintings.filter((x) => x.id !== p.id)];
      current = p;
      render();
      select(p);
      setMessage(el.status, `“${p.title}” is ready to use as a style.`);
    } catch (err) {
      setMessage(el.status, `Could not upload the painting: ${err instanceof ApiError ? err.message : 'something went wrong'}`);
    }
  };

  el.input.addEventListener('change', () => {
    const f = el.input.files?.[0];
    if (f) void upload(f);
    el.input.value = '';
  });
  el.dropZone.addEventListener('dragover', (e) => {
    e.preventDefault();
    el.dropZone.classList.add('dragging');
  });
  el.dropZone.addEventListener('dragleave', () => el.dropZone.classList.remove('dragging'));
  el.dropZone.addEventListener('drop', (e) => {
    e.preventDefault();
    el.dropZone.classList.remove('dragging');
    const f = e.dataTransfer?.files[0];
    if (f) void upload(f);
  });

  return {
    selected: () => current,
    async load() {
      try {
        paintings = await listStyles();
      } catch {
        paintings = [];
      }
      const remembered = prefs.get('painting');
      current = paintings.find((p) => p.id === remembered) ?? current;
      render();
      onChange(current);
    },
    setMaxBytes(bytes) {
      maxBytes = bytes;
    },
    setDisabled(disabled) {
      el.input.disabled = disabled;
      for (const b of el.list.querySelectorAll<HTMLButtonElement>('button')) b.disabled = disabled;
    },
  };
}
