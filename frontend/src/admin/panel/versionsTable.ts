/**
 * The versions of a model in lineage order: requests, ratings, bad rate with its 95%
 * interval, and per version "Canary…" and "Roll back to this".
 */
import type { ModelStats, VersionStats } from '../api.ts';
import { h, percent, replaceKeepingFocus, whenShort } from '../ui.ts';
import { lineageOrder } from './lineage.ts';

export interface VersionsTable {
  root: HTMLElement;
  render(stats: ModelStats): void;
  /** Row buttons are off while an action runs, and for the live version. */
  renderButtons(stats: ModelStats, busy: boolean): void;
}

export interface VersionRowActions {
  pickCanary(version: string): void;
  rollback(version: string): void;
}

const COLUMNS = ['Version', 'Parent', 'Source', 'Created', 'Requests', 'Good', 'Bad', 'Bad rate (95% CI)', 'Actions'];

export function createVersionsTable(model: string, actions: VersionRowActions): VersionsTable {
  const body = h('tbody');
  const table = h(
    'table',
    { className: 'admin-table' },
    h('caption', { className: 'visually-hidden' }, `Versions of ${model}`),
    h('thead', {}, h('tr', {}, ...COLUMNS.map((t) => h('th', { scope: 'col' }, t)))),
    body,
  );

  const row = (v: VersionStats, depth: number, stats: ModelStats): HTMLTableRowElement => {
    const isLive = v.version === stats.live_version;
    const isCanary = v.version === stats.canary?.version;
    const [lo, hi] = v.bad_rate_ci95 ?? [0, 1];
    const badges = [isLive ? h('span', { className: 'badge badge-live' }, 'live') : null, isCanary ? h('span', { className: 'badge badge-canary' }, `canary ${stats.canary!.percent}%`) : null];
    const canaryBtn = h('button', { type: 'button', className: 'btn btn-small btn-secondary', 'data-action': 'pick-canary', 'data-version': v.version, 'data-key': `canary:${v.version}`, 'aria-label': `Canary ${v.version}…` }, 'Canary…');
    const rollBtn = h('button', { type: 'button', className: 'btn btn-small btn-secondary', 'data-action': 'rollback', 'data-version': v.version, 'data-key': `rollback:${v.version}`, 'aria-label': `Roll back to ${v.version}` }, 'Roll back to this');
    canaryBtn.addEventListener('click', () => actions.pickCanary(v.version));
    rollBtn.addEventListener('click', () => actions.rollback(v.version));
    const cell = (label: string, ...content: (Node | string | null)[]) => h('td', { 'data-label': label }, ...content);
    const cardUrl = `/api/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(v.version)}`;
    return h(
      'tr',
      { 'data-version': v.version, className: isLive ? 'is-live' : isCanary ? 'is-canary' : '' },
      h(
        'th',
        { scope: 'row', 'data-label': 'Version' },
        h(
          'span',
          { className: 'lineage', style: `--depth: ${depth}` },
          depth > 0 ? h('span', { className: 'lineage-arrow', 'aria-hidden': 'true' }, '↳ ') : null,
          h('a', { href: cardUrl, target: '_blank', rel: 'noopener', title: 'Model card (JSON)' }, v.version),
        ),
        ...badges,
      ),
      cell('Parent', v.parent ?? '–'),
      cell('Source', v.source ?? '–'),
      cell('Created', whenShort(v.created_at)),
      cell('Requests', String(v.requests)),
      cell('Good', String(v.good)),
      cell('Bad', String(v.bad)),
      cell('Bad rate', v.rated ? `${percent(v.bad_rate, 1)} (${percent(lo)}–${percent(hi)})` : 'no ratings'),
      h('td', { className: 'row-actions', 'data-label': 'Actions' }, canaryBtn, rollBtn),
    );
  };

  return {
    root: h('div', { className: 'table-wrap' }, table),
    render(stats) {
      replaceKeepingFocus(body, ...lineageOrder(stats.versions).map(({ v, depth }) => row(v, depth, stats)));
    },
    renderButtons(stats, busy) {
      body.querySelectorAll<HTMLButtonElement>('button[data-action]').forEach((b) => (b.disabled = busy || b.dataset.version === stats.live_version));
    },
  };
}
