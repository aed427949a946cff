/**
 * One model's panel, composed of its parts (panel/): the traffic summary, the canary
 * controls, the versions table, the bad-rate chart, the history and the model card. A
 * refresh redraws only the parts whose data changed, so focus and open boxes survive it.
 */
import type { HistoryEntry, ModelInfo, ModelStats } from './api.ts';
import { h } from './ui.ts';
import { createBadRateChart } from './panel/badRateChart.ts';
import { createCanaryControls } from './panel/canaryControls.ts';
import { createHistoryList } from './panel/historyList.ts';
import { shortVersion } from './panel/lineage.ts';
import { createModelCardBox } from './panel/modelCard.ts';
import type { ReleaseActions } from './panel/releaseActions.ts';
import { createTrafficSummary } from './panel/trafficSummary.ts';
import { createVersionsTable } from './panel/versionsTable.ts';

export interface ModelPanel {
  root: HTMLElement;
  update(info: ModelInfo, stats: ModelStats, history: HistoryEntry[]): void;
  showError(message: string): void;
}

export function createModelPanel(info: ModelInfo, actions: ReleaseActions): ModelPanel {
  const m = info.name;
  const id = (s: string) => `${s}-${m}`;
  let last: ModelStats | undefined;

  const renderButtons = (): void => {
    if (!last) return;
    controls.renderButtons(last);
    table.renderButtons(last, controls.busy());
  };
  const summary = createTrafficSummary(m);
  const controls = createCanaryControls(m, id, actions, renderButtons);
  const table = createVersionsTable(m, {
    pickCanary: (version) => last && controls.pick(version, last),
    rollback: (version) => {
      if (!window.confirm(`Roll ${m} back to ${version}? It becomes the live version and any canary ends.`)) return;
      controls.run(`Roll back to ${shortVersion(m, version)}`, (why) => actions.rollback(m, version, why));
    },
  });
  const chart = createBadRateChart(m, id('chart'));
  const history = createHistoryList(id('history'));
  const card = createModelCardBox(m, id);

  const root = h(
    'section',
    { className: 'card admin-model', id: id('model'), 'aria-labelledby': id('model-title'), 'data-model': m },
    h('h2', { className: 'card-title', id: id('model-title') }, h('span', {}, m), h('span', { className: 'muted small' }, `${info.title} · ${info.artist}`)),
    summary.root,
    controls.root,
    h('h3', { className: 'admin-subtitle' }, 'Versions'),
    table.root,
    h('h3', { className: 'admin-subtitle' }, 'Bad rate over time'),
    chart.root,
    history.root,
    card.root,
  );

  // What each part was last drawn from (as JSON): a part is redrawn only when it changes.
  const drawn = { summary: '', options: '', table: '', chart: '', history: '' };
  function update(_info: ModelInfo, stats: ModelStats, entries: HistoryEntry[]) {
    last = stats;
    const s = JSON.stringify;
    const next = {
      summary: s([stats.live_version, stats.canary]),
      options: s([stats.live_version, stats.canary?.version, stats.versions.map((v) => v.version)]),
      table: s([stats.live_version, stats.canary, stats.versions.map(({ hourly: _h, metrics: _m, ...rest }) => rest)]),
      chart: s([stats.canary?.version, stats.versions.map((v) => [v.version, v.hourly])]),
      history: s(entries.length ? entries[entries.length - 1] : null) + entries.length,
    };
    if (next.summary !== drawn.summary) summary.render(stats);
    if (next.options !== drawn.options) {
      controls.renderOptions(stats);
      card.renderOptions(stats);
    }
    if (next.table !== drawn.table) table.render(stats);
    if (next.chart !== drawn.chart) chart.render(stats);
    if (next.history !== drawn.history) history.render(entries);
    Object.assign(drawn, next);
    controls.syncPercent(stats);
    renderButtons();
  }

  return { root, update, showError: controls.showError };
}
