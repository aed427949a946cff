/** The latest changes of a model's release (canary, promote, roll back, publish), newest first. */
import type { HistoryEntry } from '../api.ts';
import { h, replaceKeepingFocus, when } from '../ui.ts';

const ACTION_TEXT: Record<string, string> = { canary: 'Canary', canary_end: 'Canary ended', promote: 'Promoted', rollback: 'Rolled back', publish: 'Published' };
const SHOWN = 30;

export interface HistoryList {
  root: HTMLElement;
  render(history: HistoryEntry[]): void;
}

export function createHistoryList(id: string): HistoryList {
  const list = h('ol', { className: 'admin-history', id });
  const item = (e: HistoryEntry): HTMLLIElement =>
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
    );
  return {
    root: h('details', { className: 'admin-history-box', open: true }, h('summary', {}, 'History'), list),
    render(history) {
      const items = [...history].reverse().slice(0, SHOWN).map(item);
      replaceKeepingFocus(list, ...(items.length ? items : [h('li', { className: 'muted' }, 'No changes yet.')]));
    },
  };
}
