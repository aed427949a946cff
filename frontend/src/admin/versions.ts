/**
 * One model's panel: live version and canary with the traffic split, canary / promote /
 * end-canary controls, the versions table with lineage and per-version rates, the
 * bad-rate-over-time chart, and the history of changes.
 */
import { modelCard, normaliseLosses, type HistoryEntry, type ModelInfo, type ModelStats, type VersionStats } from './api.ts';
import { PALETTE, legend, lineChart, wilson, type ChartSeries } from './chart.ts';
import { h, percent, replaceKeepingFocus, say, when, whenShort } from './ui.ts';

export interface PanelActions {
  canary(model: string, version: string | undefined, percent: number, reason?: string): Promise<void>;
  promote(model: string, reason?: string): Promise<void>;
  rollback(model: string, version: string | undefined, reason?: string): Promise<void>;
}

export interface ModelPanel {
  root: HTMLElement;
  update(info: ModelInfo, stats: ModelStats, history: HistoryEntry[]): void;
  showError(message: string): void;
}

const short = (model: string, version: string | null | undefined) => (version ? version.replace(`${model}_`, '') : '–');

/** Versions ordered as a tree walk: each version followed by its descendants (lineage). */
export function lineageOrder(versions: VersionStats[]): { v: VersionStats; depth: number }[] {
  const names = new Set(versions.map((v) => v.version));
  const children = new Map<string | null, VersionStats[]>();
  for (const v of versions) {
    const p = v.parent && names.has(v.parent) && v.parent !== v.version ? v.parent : null;
    children.set(p, [...(children.get(p) ?? []), v]);
  }
  const out: { v: VersionStats; depth: number }[] = [];
  const seen = new Set<string>();
  const walk = (parent: string | null, depth: number) => {
    for (const v of children.get(parent) ?? []) {
      if (seen.has(v.version)) continue;
      seen.add(v.version);
      out.push({ v, depth });
      walk(v.version, depth + 1);
    }
  };
  walk(null, 0);
  for (const v of versions) if (!seen.has(v.version)) out.push({ v, depth: 0 }); // cycles
  return out;
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

/** The first loss series found in a card's `training` (loss_history, losses, …). */
function trainingLosses(training: unknown): { step: number; loss: number }[] {
  if (!training || typeof training !== 'object') return [];
  const t = training as Record<string, unknown>;
  for (const key of ['loss_history', 'losses', 'loss', 'history']) {
    const pts = normaliseLosses(t[key]);
    if (pts.length) return pts;
  }
  for (const v of Object.values(t)) {
    const pts = normaliseLosses(v);
    if (pts.length > 1) return pts;
  }
  return [];
}

function renderCard(version: string, card: Record<string, unknown>, width: number): Node[] {
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
  const losses = trainingLosses(card.training);
  const out: (Node | null)[] = [
    list('About', about),
    list('Held-out metrics', facts(card.metrics)),
    list('Training', facts(card.training)),
    losses.length
      ? h(
          'div',
          {},
          h('h4', { className: 'card-sub' }, 'Training loss'),
          lineChart({ series: [{ name: 'loss', points: losses.map((p) => ({ x: p.step, y: p.loss })) }], label: `Training loss of ${version}: ${losses.length} points`, width, height: 160, className: 'chart-loss' }),
        )
      : h('p', { className: 'muted small' }, card.training ? 'No loss history in this card.' : 'No training record: a pretrained or imported version.'),
    h('p', { className: 'small' }, h('a', { href: `/api/models/${encodeURIComponent(String(card.model ?? ''))}/versions/${encodeURIComponent(version)}`, target: '_blank', rel: 'noopener' }, 'Full card (JSON)')),
  ];
  return out.filter((n): n is Node => n !== null);
}

const ACTION_TEXT: Record<string, string> = { canary: 'Canary', canary_end: 'Canary ended', promote: 'Promoted', rollback: 'Rolled back', publish: 'Published' };

export function createModelPanel(info: ModelInfo, actions: PanelActions): ModelPanel {
  const m = info.name;
  const id = (s: string) => `${s}-${m}`;

  // Summary: live, canary, split bar.
  const summary = h('div', { className: 'admin-summary' });

  // Canary controls.
  const versionSelect = h('select', { id: id('canary-version'), name: 'version' });
  const range = h('input', { type: 'range', id: id('canary-range'), min: 0, max: 100, step: 1, value: 10, 'aria-label': 'Canary share (slider)' });
  const pct = h('input', { type: 'number', id: id('canary-percent'), name: 'percent', min: 0, max: 100, step: 1, value: 10, inputmode: 'numeric', required: true });
  const reason = h('input', { type: 'text', id: id('reason'), name: 'reason', maxlength: 500, autocomplete: 'off', placeholder: 'e.g. fewer bad ratings in the last hour' });
  const applyBtn = h('button', { type: 'submit', className: 'btn btn-primary', 'data-action': 'canary' }, 'Start canary');
  const promoteBtn = h('button', { type: 'button', className: 'btn btn-secondary', 'data-action': 'promote' }, 'Promote canary');
  const endBtn = h('button', { type: 'button', className: 'btn btn-secondary', 'data-action': 'end-canary' }, 'End canary');
  const status = h('p', { className: 'status', role: 'status', 'aria-live': 'polite' });
  const error = h('div', { className: 'alert alert-error', role: 'alert', hidden: true });
  let percentDirty = false;
  let busy = false;

  const form = h(
    'form',
    { className: 'admin-canary', novalidate: true },
    h(
      'fieldset',
      {},
      h('legend', {}, 'Traffic split'),
      h(
        'div',
        { className: 'admin-fields' },
        h('div', { className: 'field' }, h('label', { for: versionSelect.id }, 'Canary version'), versionSelect),
        h(
          'div',
          { className: 'field field-percent' },
          h('label', { for: pct.id }, 'Canary share (%)'),
          h('div', { className: 'percent-row' }, range, pct),
        ),
        h('div', { className: 'field field-wide' }, h('label', { for: reason.id }, 'Reason ', h('span', { className: 'muted' }, '(optional, kept in the history)')), reason),
      ),
      h('div', { className: 'actions' }, applyBtn, promoteBtn, endBtn),
    ),
    status,
    error,
  );

  range.addEventListener('input', () => {
    pct.value = range.value;
    percentDirty = true;
  });
  pct.addEventListener('input', () => {
    if (pct.value !== '') range.value = String(Math.min(100, Math.max(0, Number(pct.value))));
    percentDirty = true;
  });

  const run = async (label: string, fn: () => Promise<void>) => {
    if (busy) return;
    busy = true;
    form.setAttribute('aria-busy', 'true');
    root.querySelectorAll<HTMLButtonElement>('button[data-action]').forEach((b) => (b.disabled = true));
    say(error, '');
    say(status, `${label}…`);
    try {
      await fn();
      say(status, `${label}: done.`, 'ok');
      reason.value = '';
      percentDirty = false;
    } catch (err) {
      say(status, '');
      say(error, `${label} failed: ${(err as Error).message}`);
    } finally {
      busy = false;
      form.removeAttribute('aria-busy');
      if (last) renderButtons(last.stats);
    }
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const p = Number(pct.value);
    if (pct.value === '' || !Number.isFinite(p) || p < 0 || p > 100) {
      say(error, 'The canary share must be a number from 0 to 100.');
      pct.focus();
      return;
    }
    const version = versionSelect.value;
    if (p > 0 && !version) {
      say(error, 'Choose the version to send the canary share to.');
      versionSelect.focus();
      return;
    }
    void run(p === 0 ? 'End canary' : `Canary ${short(m, version)} at ${p}%`, () => actions.canary(m, p === 0 ? undefined : version, p, reason.value.trim() || undefined));
  });
  promoteBtn.addEventListener('click', () => {
    const cand = last?.stats.canary?.version;
    if (!cand || !window.confirm(`Make ${cand} the live version of ${m}?`)) return;
    void run(`Promote ${short(m, cand)}`, () => actions.promote(m, reason.value.trim() || undefined));
  });
  endBtn.addEventListener('click', () => {
    void run('End canary', () => actions.canary(m, undefined, 0, reason.value.trim() || undefined));
  });

  // Versions table (lineage order), chart, history.
  const tableBody = h('tbody');
  const table = h(
    'table',
    { className: 'admin-table' },
    h('caption', { className: 'visually-hidden' }, `Versions of ${m}`),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['Version', 'Parent', 'Source', 'Created', 'Requests', 'Good', 'Bad', 'Bad rate (95% CI)', 'Actions'].map((t) => h('th', { scope: 'col' }, t)),
      ),
    ),
    tableBody,
  );
  const chartBox = h('div', { className: 'admin-chart', id: id('chart') });
  const historyList = h('ol', { className: 'admin-history', id: id('history') });

  // Model card of one version: training parameters, held-out metrics, training loss curve.
  const cardSelect = h('select', { id: id('card-version') });
  const cardBody = h('div', { className: 'admin-card-body', id: id('card'), 'aria-live': 'polite' });
  const cardBox = h(
    'details',
    { className: 'admin-history-box admin-card-box' },
    h('summary', {}, 'Model card'),
    h('div', { className: 'field card-pick' }, h('label', { for: cardSelect.id }, 'Version'), cardSelect),
    cardBody,
  );
  let cardShown = '';
  const showCard = async () => {
    const version = cardSelect.value;
    if (!cardBox.open || !version || version === cardShown) return;
    cardShown = version;
    cardBody.replaceChildren(h('p', { className: 'muted small' }, 'Loading…'));
    try {
      const card = await modelCard(m, version);
      if (cardSelect.value === version) cardBody.replaceChildren(...renderCard(version, card, Math.round(cardBody.clientWidth) || 600));
    } catch (err) {
      cardShown = '';
      cardBody.replaceChildren(h('p', { className: 'small', 'data-kind': 'error' }, `Could not load the card of ${version}: ${(err as Error).message}`));
    }
  };
  cardBox.addEventListener('toggle', () => void showCard());
  cardSelect.addEventListener('change', () => void showCard());

  const root = h(
    'section',
    { className: 'card admin-model', id: id('model'), 'aria-labelledby': id('model-title'), 'data-model': m },
    h('h2', { className: 'card-title', id: id('model-title') }, h('span', {}, m), h('span', { className: 'muted small' }, `${info.title} · ${info.artist}`)),
    summary,
    form,
    h('h3', { className: 'admin-subtitle' }, 'Versions'),
    h('div', { className: 'table-wrap' }, table),
    h('h3', { className: 'admin-subtitle' }, 'Bad rate over time'),
    chartBox,
    h('details', { className: 'admin-history-box', open: true }, h('summary', {}, 'History'), historyList),
    cardBox,
  );

  let last: { stats: ModelStats; history: HistoryEntry[] } | undefined;
  let chartWidth = 0;
  // Charts are drawn at their box's pixel width (readable text on phones): redraw on resize.
  if (typeof ResizeObserver !== 'undefined') {
    new ResizeObserver(() => {
      if (last && Math.abs(Math.round(chartBox.clientWidth) - chartWidth) > 24) renderChart(last.stats);
    }).observe(chartBox);
  }
  const sig = { summary: '', table: '', chart: '', history: '', options: '' };

  function renderButtons(stats: ModelStats) {
    const hasCanary = !!stats.canary;
    applyBtn.textContent = hasCanary ? 'Update canary' : 'Start canary';
    applyBtn.disabled = busy;
    promoteBtn.disabled = busy || !hasCanary;
    endBtn.disabled = busy || !hasCanary;
    tableBody.querySelectorAll<HTMLButtonElement>('button[data-action]').forEach((b) => (b.disabled = busy || b.dataset.version === stats.live_version));
  }

  function renderSummary(stats: ModelStats) {
    const c = stats.canary;
    const canaryShare = c ? c.percent : 0;
    const bar = h(
      'div',
      { className: 'split-bar', role: 'img', 'aria-label': c ? `${100 - canaryShare}% of traffic to ${stats.live_version}, ${canaryShare}% to ${c.version}` : `All traffic to ${stats.live_version ?? 'no version'}` },
      h('span', { className: 'split-live', style: `flex-basis: ${100 - canaryShare}%` }, `${short(m, stats.live_version)} ${100 - canaryShare}%`),
      c ? h('span', { className: 'split-canary', style: `flex-basis: ${canaryShare}%` }, `${short(m, c.version)} ${canaryShare}%`) : null,
    );
    replaceKeepingFocus(
      summary,
      h(
        'dl',
        { className: 'admin-facts' },
        h('div', {}, h('dt', {}, 'Live'), h('dd', { 'data-field': 'live' }, stats.live_version ?? 'none')),
        h(
          'div',
          {},
          h('dt', {}, 'Canary'),
          h('dd', { 'data-field': 'canary' }, c ? `${c.version} at ${c.percent}%` : 'none', c?.by ? h('span', { className: 'muted small' }, ` · since ${when(c.since)} by ${c.by}`) : null),
        ),
      ),
      bar,
    );
  }

  function renderOptions(stats: ModelStats) {
    const current = versionSelect.value;
    const candidates = stats.versions.map((v) => v.version).filter((v) => v !== stats.live_version);
    versionSelect.replaceChildren(
      ...(candidates.length ? candidates.map((v) => h('option', { value: v }, v)) : [h('option', { value: '' }, 'no other version')]),
    );
    const preferred = candidates.includes(current) ? current : (stats.canary?.version ?? candidates[candidates.length - 1] ?? '');
    versionSelect.value = preferred;
    const cardCurrent = cardSelect.value;
    const all = stats.versions.map((v) => v.version);
    cardSelect.replaceChildren(...all.map((v) => h('option', { value: v }, v)));
    cardSelect.value = all.includes(cardCurrent) ? cardCurrent : (stats.live_version ?? all[0] ?? '');
  }

  function renderTable(stats: ModelStats) {
    const rows = lineageOrder(stats.versions).map(({ v, depth }) => {
      const isLive = v.version === stats.live_version;
      const isCanary = v.version === stats.canary?.version;
      const [lo, hi] = v.bad_rate_ci95 ?? [0, 1];
      const badges = [isLive ? h('span', { className: 'badge badge-live' }, 'live') : null, isCanary ? h('span', { className: 'badge badge-canary' }, `canary ${stats.canary!.percent}%`) : null];
      const canaryBtn = h('button', { type: 'button', className: 'btn btn-small btn-secondary', 'data-action': 'pick-canary', 'data-version': v.version, 'data-key': `canary:${v.version}`, 'aria-label': `Canary ${v.version}…` }, 'Canary…');
      const rollBtn = h('button', { type: 'button', className: 'btn btn-small btn-secondary', 'data-action': 'rollback', 'data-version': v.version, 'data-key': `rollback:${v.version}`, 'aria-label': `Roll back to ${v.version}` }, 'Roll back to this');
      canaryBtn.addEventListener('click', () => {
        versionSelect.value = v.version;
        if (!percentDirty && !stats.canary) {
          pct.value = '10';
          range.value = '10';
        }
        form.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
        pct.focus();
        pct.select();
        say(status, `Set the share for ${v.version}, then press ${applyBtn.textContent}.`);
      });
      rollBtn.addEventListener('click', () => {
        if (!window.confirm(`Roll ${m} back to ${v.version}? It becomes the live version and any canary ends.`)) return;
        void run(`Roll back to ${short(m, v.version)}`, () => actions.rollback(m, v.version, reason.value.trim() || undefined));
      });
      const cell = (label: string, ...content: (Node | string | null)[]) => h('td', { 'data-label': label }, ...content);
      return h(
        'tr',
        { 'data-version': v.version, className: isLive ? 'is-live' : isCanary ? 'is-canary' : '' },
        h(
          'th',
          { scope: 'row', 'data-label': 'Version' },
          h('span', { className: 'lineage', style: `--depth: ${depth}` }, depth > 0 ? h('span', { className: 'lineage-arrow', 'aria-hidden': 'true' }, '↳ ') : null, h('a', { href: `/api/models/${encodeURIComponent(m)}/versions/${encodeURIComponent(v.version)}`, target: '_blank', rel: 'noopener', title: 'Model card (JSON)' }, v.version)),
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
    });
    replaceKeepingFocus(tableBody, ...rows);
  }

  function renderChart(stats: ModelStats) {
    const series: ChartSeries[] = stats.versions.map((v, i) => ({
      name: v.version,
      color: PALETTE[i % PALETTE.length],
      dashed: v.version === stats.canary?.version,
      points: (v.hourly ?? [])
        .filter((p) => p.good + p.bad > 0)
        .map((p) => {
          const n = p.good + p.bad;
          const [lo, hi] = wilson(p.bad, n);
          const x = Date.parse(p.hour);
          return { x, y: p.bad / n, lo, hi, label: `${v.version}, ${when(p.hour)}: ${p.bad} bad of ${n} (${percent(p.bad / n)}, 95% CI ${percent(lo)}–${percent(hi)})` };
        })
        .filter((p) => Number.isFinite(p.x)),
    }));
    const rated = series.filter((s) => s.points.length > 0);
    const width = Math.round(chartBox.clientWidth) || 640;
    chartWidth = width;
    const svg = lineChart({
      width,
      height: width < 480 ? 200 : 240,
      dodge: 5,
      series: rated,
      label: `Bad rate per hour for each version of ${m}` + (rated.length ? `: ${rated.map((s) => `${s.name} ${s.points.length} hours`).join(', ')}` : ': no ratings yet'),
      xType: 'time',
      yMin: 0,
      yMax: 1,
      bands: true,
      yFormat: (v) => `${Math.round(v * 100)}%`,
    });
    replaceKeepingFocus(chartBox, svg, rated.length ? legend(rated, 'bars: 95% interval per hour') : h('p', { className: 'muted small' }, 'No ratings yet: the chart fills in as users rate results.'));
  }

  function renderHistory(history: HistoryEntry[]) {
    const items = [...history]
      .reverse()
      .slice(0, 30)
      .map((e) =>
        h(
          'li',
          { 'data-action': e.action },
          h('time', { datetime: e.at, className: 'muted small' }, when(e.at)),
          ' ',
          h('span', { className: `badge badge-${e.action}` }, ACTION_TEXT[e.action] ?? e.action),
          ' ',
          h('span', {}, `${e.from ?? '–'} → ${e.to ?? '–'}`),
          e.percent !== undefined && e.action === 'canary' ? ` at ${e.percent}%` : '',
          ' ',
          h('span', { className: 'muted' }, `by ${e.actor}`),
          e.reason ? h('span', { className: 'history-reason' }, ` — ${e.reason}`) : null,
        ),
      );
    replaceKeepingFocus(historyList, ...(items.length ? items : [h('li', { className: 'muted' }, 'No changes yet.')]));
  }

  function update(_info: ModelInfo, stats: ModelStats, history: HistoryEntry[]) {
    last = { stats, history };
    const s = JSON.stringify;
    const next = {
      summary: s([stats.live_version, stats.canary]),
      options: s([stats.live_version, stats.canary?.version, stats.versions.map((v) => v.version)]),
      table: s([stats.live_version, stats.canary, stats.versions.map(({ hourly: _h, metrics: _m, ...rest }) => rest)]),
      chart: s([stats.canary?.version, stats.versions.map((v) => [v.version, v.hourly])]),
      history: s(history.length ? history[history.length - 1] : null) + history.length,
    };
    if (next.summary !== sig.summary) renderSummary(stats);
    if (next.options !== sig.options) renderOptions(stats);
    if (next.table !== sig.table) renderTable(stats);
    if (next.chart !== sig.chart) renderChart(stats);
    if (next.history !== sig.history) renderHistory(history);
    Object.assign(sig, next);
    if (!percentDirty && document.activeElement !== pct && document.activeElement !== range) {
      const p = stats.canary?.percent ?? 10;
      pct.value = String(p);
      range.value = String(p);
    }
    renderButtons(stats);
  }

  return {
    root,
    update,
    showError(message: string) {
      say(error, message);
    },
  };
}
