/**
 * The model card of one version, fetched when the box is opened: where it came from,
 * held-out metrics, training parameters and the training loss curve.
 */
import type { ModelCard } from '@nst/contracts';
import { modelCard, type ModelStats } from '../api.ts';
import { lineChart } from '../chart.ts';
import { h, when } from '../ui.ts';

export interface ModelCardBox {
  root: HTMLElement;
  /** The versions to choose from, keeping the one chosen (else the live one). */
  renderOptions(stats: ModelStats): void;
}

const scalar = (v: unknown): string | null =>
  typeof v === 'number' ? String(Number(v.toPrecision(6))) : typeof v === 'string' || typeof v === 'boolean' ? String(v) : null;

/** Scalar entries of an object (nested one level as `a.b`), for a definition list. */
function facts(obj: unknown, prefix = ''): [string, string][] {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return [];
  return Object.entries(obj as Record<string, unknown>).flatMap(([k, v]): [string, string][] => {
    const text = scalar(v);
    if (text !== null) return [[prefix + k, text]];
    if (v && typeof v === 'object' && !Array.isArray(v) && !prefix) return facts(v, `${k}.`);
    return [];
  });
}

function renderCard(version: string, card: ModelCard, width: number): Node[] {
  const list = (title: string, entries: [string, string][]) =>
    entries.length
      ? h('div', {}, h('h4', { className: 'card-sub' }, title), h('dl', { className: 'card-facts' }, ...entries.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v)))))
      : null;
  const about: [string, string][] = [
    ['parent', scalar(card.parent) ?? '–'],
    ['style', scalar(card.style) ?? '–'],
    ['created', when(scalar(card.created_at))],
    ['licence', scalar(card.licence) ?? '–'],
    ...facts(card.source, 'source.'),
  ];
  const losses = card.training?.loss_history ?? [];
  const out: (Node | null)[] = [
    list('About', about),
    list('Held-out metrics', facts(card.metrics)),
    list('Training', facts(card.training)),
    losses.length
      ? h(
          'div',
          {},
          h('h4', { className: 'card-sub' }, 'Training loss'),
          lineChart({ series: [{ name: 'loss', points: losses.map((p) => ({ x: p.step, y: p.total })) }], label: `Training loss of ${version}: ${losses.length} points`, width, height: 160, className: 'chart-loss' }),
        )
      : h('p', { className: 'muted small' }, card.training ? 'No loss history in this card.' : 'No training record: a pretrained or imported version.'),
    h('p', { className: 'small' }, h('a', { href: `/api/models/${encodeURIComponent(String(card.model ?? ''))}/versions/${encodeURIComponent(version)}`, target: '_blank', rel: 'noopener' }, 'Full card (JSON)')),
  ];
  return out.filter((n): n is Node => n !== null);
}

export function createModelCardBox(model: string, id: (s: string) => string): ModelCardBox {
  const select = h('select', { id: id('card-version') });
  const body = h('div', { className: 'admin-card-body', id: id('card'), 'aria-live': 'polite' });
  const root = h(
    'details',
    { className: 'admin-history-box admin-card-box' },
    h('summary', {}, 'Model card'),
    h('div', { className: 'field card-pick' }, h('label', { for: select.id }, 'Version'), select),
    body,
  );
  let shown = '';
  const show = async (): Promise<void> => {
    const version = select.value;
    if (!root.open || !version || version === shown) return;
    shown = version;
    body.replaceChildren(h('p', { className: 'muted small' }, 'Loading…'));
    try {
      const card = await modelCard(model, version);
      if (select.value === version) body.replaceChildren(...renderCard(version, card, Math.round(body.clientWidth) || 600));
    } catch (err) {
      shown = '';
      body.replaceChildren(h('p', { className: 'small', 'data-kind': 'error' }, `Could not load the card of ${version}: ${(err as Error).message}`));
    }
  };
  root.addEventListener('toggle', () => void show());
  select.addEventListener('change', () => void show());

  return {
    root,
    renderOptions(stats) {
      const current = select.value;
      const all = stats.versions.map((v) => v.version);
      select.replaceChildren(...all.map((v) => h('option', { value: v }, v)));
      select.value = all.includes(current) ? current : (stats.live_version ?? all[0] ?? '');
    },
  };
}
