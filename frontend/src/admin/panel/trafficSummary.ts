/** Live version, canary and the traffic split bar at the top of a model's panel. */
import type { ModelStats } from '../api.ts';
import { h, replaceKeepingFocus, when } from '../ui.ts';
import { shortVersion } from './lineage.ts';

export interface TrafficSummary {
  root: HTMLElement;
  render(stats: ModelStats): void;
}

export function createTrafficSummary(model: string): TrafficSummary {
  const root = h('div', { className: 'admin-summary' });
  return {
    root,
    render(stats) {
      const c = stats.canary;
      const share = c ? c.percent : 0;
      const bar = h(
        'div',
        { className: 'split-bar', role: 'img', 'aria-label': c ? `${100 - share}% of traffic to ${stats.live_version}, ${share}% to ${c.version}` : `All traffic to ${stats.live_version ?? 'no version'}` },
        h('span', { className: 'split-live', style: `flex-basis: ${100 - share}%` }, `${shortVersion(model, stats.live_version)} ${100 - share}%`),
        c ? h('span', { className: 'split-canary', style: `flex-basis: ${share}%` }, `${shortVersion(model, c.version)} ${share}%`) : null,
      );
      replaceKeepingFocus(
        root,
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
    },
  };
}
