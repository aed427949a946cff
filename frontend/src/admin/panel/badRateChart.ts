/** Bad rate per hour of each version of a model, with 95% intervals; redrawn at its box's width. */
import type { ModelStats } from '../api.ts';
import { PALETTE, legend, lineChart, wilson, type ChartSeries } from '../chart.ts';
import { h, percent, replaceKeepingFocus, when } from '../ui.ts';

export interface BadRateChart {
  root: HTMLElement;
  render(stats: ModelStats): void;
}

function hourlySeries(stats: ModelStats): ChartSeries[] {
  return stats.versions.map((v, i) => ({
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
}

export function createBadRateChart(model: string, id: string): BadRateChart {
  const root = h('div', { className: 'admin-chart', id });
  let last: ModelStats | undefined;
  let drawnWidth = 0;

  const render = (stats: ModelStats): void => {
    last = stats;
    const rated = hourlySeries(stats).filter((s) => s.points.length > 0);
    const width = Math.round(root.clientWidth) || 640;
    drawnWidth = width;
    const svg = lineChart({
      width,
      height: width < 480 ? 200 : 240,
      dodge: 5,
      series: rated,
      label: `Bad rate per hour for each version of ${model}` + (rated.length ? `: ${rated.map((s) => `${s.name} ${s.points.length} hours`).join(', ')}` : ': no ratings yet'),
      xType: 'time',
      yMin: 0,
      yMax: 1,
      bands: true,
      yFormat: (v) => `${Math.round(v * 100)}%`,
    });
    replaceKeepingFocus(root, svg, rated.length ? legend(rated, 'bars: 95% interval per hour') : h('p', { className: 'muted small' }, 'No ratings yet: the chart fills in as users rate results.'));
  };

  // Drawn at the box's pixel width (readable text on phones), so a resize redraws it.
  if (typeof ResizeObserver !== 'undefined') {
    new ResizeObserver(() => {
      if (last && Math.abs(Math.round(root.clientWidth) - drawnWidth) > 24) render(last);
    }).observe(root);
  }
  return { root, render };
}
