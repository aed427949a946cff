/** The style picker: one radio card per model, showing its painting as a thumbnail. */
import type { ModelInfo } from './api.ts';
import { prefs } from './dom.ts';

export interface StylePicker {
  /** Replaces the cards with these models; restores the remembered choice. */
  render(models: ModelInfo[]): void;
  selected(): ModelInfo | undefined;
  /** Shows the chosen painting as the "Your painting" card's thumbnail. */
  setPainting(thumbnailUrl: string | null): void;
}

export function createStylePicker(grid: HTMLElement, onChange: (model: ModelInfo) => void): StylePicker {
  let models: ModelInfo[] = [];

  const selected = (): ModelInfo | undefined => {
    const input = grid.querySelector<HTMLInputElement>('input[name="style"]:checked');
    return input ? models.find((m) => m.name === input.value) : undefined;
  };

  grid.addEventListener('change', () => {
    const m = selected();
    if (!m) return;
    prefs.set('model', m.name);
    onChange(m);
  });

  const render = (list: ModelInfo[]): void => {
    models = list;
    grid.replaceChildren();
    const remembered = prefs.get('model');
    const usable = list.filter((m) => m.live_version);
    const initial = usable.find((m) => m.name === remembered) ?? usable[0];

    for (const m of list) {
      const id = `style-${m.name}`;
      const label = document.createElement('label');
      label.className = 'style-card';
      label.htmlFor = id;
      label.dataset.model = m.name;

      const input = document.createElement('input');
      input.type = 'radio';
      input.name = 'style';
      input.id = id;
      input.value = m.name;
      input.className = 'visually-hidden';
      input.checked = m === initial;
      input.disabled = !m.live_version;

      const frame = document.createElement('span');
      frame.className = 'style-thumb';
      const img = document.createElement('img');
      const arbitrary = m.kind === 'arbitrary';
      if (arbitrary) frame.classList.add('painting-thumb');
      if (m.thumbnail_url) img.src = m.thumbnail_url;
      else frame.classList.add('broken');
      img.alt = '';
      img.width = 256;
      img.height = 256;
      img.decoding = 'async';
      img.addEventListener('error', () => frame.classList.add('broken'), { once: true });
      frame.append(img);

      const text = document.createElement('span');
      text.className = 'style-text';
      const title = document.createElement('span');
      title.className = 'style-title';
      title.textContent = arbitrary ? 'Your painting' : m.title || m.style;
      const artist = document.createElement('span');
      artist.className = 'style-artist';
      const byline = arbitrary ? 'Upload any painting' : m.artist;
      artist.textContent = m.live_version ? byline : `${byline} · unavailable`;
      text.append(title, artist);

      const check = document.createElement('span');
      check.className = 'style-check';
      check.setAttribute('aria-hidden', 'true');
      check.textContent = '✓';

      label.append(input, frame, text, check);
      grid.append(label);
    }
    if (initial) onChange(initial);
  };

  const setPainting = (thumbnailUrl: string | null): void => {
    const frame = grid.querySelector<HTMLElement>('.painting-thumb');
    const img = frame?.querySelector('img');
    if (!frame || !img) return;
    if (thumbnailUrl) {
      img.src = thumbnailUrl;
      frame.classList.remove('broken');
    } else {
      img.removeAttribute('src');
      frame.classList.add('broken');
    }
  };

  return { render, selected, setPainting };
}
