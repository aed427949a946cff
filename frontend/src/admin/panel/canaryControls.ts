/**
 * The traffic split form of a model: canary version, share (slider and number), reason,
 * Start/Update canary, Promote, End canary; its status line and error. Every release
 * action of the panel (roll back too) runs through `run`, one at a time, so the buttons
 * are disabled and the outcome is reported in one place.
 */
import type { ModelStats } from '../api.ts';
import { h, say } from '../ui.ts';
import { shortVersion } from './lineage.ts';
import type { ReleaseActions } from './releaseActions.ts';

export interface CanaryControls {
  root: HTMLFormElement;
  /** Versions offered as canary (all but the live one), keeping the operator's choice. */
  renderOptions(stats: ModelStats): void;
  /** The share shown follows the server's unless the operator is editing it. */
  syncPercent(stats: ModelStats): void;
  renderButtons(stats: ModelStats): void;
  /** Preselects `version` and moves focus to the share ("Canary…" in the versions table). */
  pick(version: string, stats: ModelStats): void;
  /** Runs one release action, reporting progress and outcome; ignored while one is running. */
  run(label: string, fn: (reason: string | undefined) => Promise<void>): void;
  busy(): boolean;
  showError(message: string): void;
}

export function createCanaryControls(model: string, id: (s: string) => string, actions: ReleaseActions, onSettled: () => void): CanaryControls {
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
  let running = false;
  let canaryVersion: string | undefined;

  const root = h(
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
        h('div', { className: 'field field-percent' }, h('label', { for: pct.id }, 'Canary share (%)'), h('div', { className: 'percent-row' }, range, pct)),
        h('div', { className: 'field field-wide' }, h('label', { for: reason.id }, 'Reason ', h('span', { className: 'muted' }, '(optional, kept in the history)')), reason),
      ),
      h('div', { className: 'actions' }, applyBtn, promoteBtn, endBtn),
    ),
    status,
    error,
  );

  const setPercent = (p: number): void => {
    pct.value = String(p);
    range.value = String(p);
  };
  range.addEventListener('input', () => {
    pct.value = range.value;
    percentDirty = true;
  });
  pct.addEventListener('input', () => {
    if (pct.value !== '') range.value = String(Math.min(100, Math.max(0, Number(pct.value))));
    percentDirty = true;
  });

  const run: CanaryControls['run'] = (label, fn) => {
    if (running) return;
    running = true;
    root.setAttribute('aria-busy', 'true');
    root.closest('section')?.querySelectorAll<HTMLButtonElement>('button[data-action]').forEach((b) => (b.disabled = true));
    say(error, '');
    say(status, `${label}…`);
    void fn(reason.value.trim() || undefined)
      .then(() => {
        say(status, `${label}: done.`, 'ok');
        reason.value = '';
        percentDirty = false;
      })
      .catch((err: unknown) => {
        say(status, '');
        say(error, `${label} failed: ${(err as Error).message}`);
      })
      .finally(() => {
        running = false;
        root.removeAttribute('aria-busy');
        onSettled();
      });
  };

  root.addEventListener('submit', (e) => {
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
    run(p === 0 ? 'End canary' : `Canary ${shortVersion(model, version)} at ${p}%`, (why) => actions.canary(model, p === 0 ? undefined : version, p, why));
  });
  promoteBtn.addEventListener('click', () => {
    const cand = canaryVersion;
    if (!cand || !window.confirm(`Make ${cand} the live version of ${model}?`)) return;
    run(`Promote ${shortVersion(model, cand)}`, (why) => actions.promote(model, why));
  });
  endBtn.addEventListener('click', () => run('End canary', (why) => actions.canary(model, undefined, 0, why)));

  return {
    root,
    renderOptions(stats) {
      const current = versionSelect.value;
      const candidates = stats.versions.map((v) => v.version).filter((v) => v !== stats.live_version);
      versionSelect.replaceChildren(...(candidates.length ? candidates.map((v) => h('option', { value: v }, v)) : [h('option', { value: '' }, 'no other version')]));
      versionSelect.value = candidates.includes(current) ? current : (stats.canary?.version ?? candidates[candidates.length - 1] ?? '');
    },
    syncPercent(stats) {
      if (!percentDirty && document.activeElement !== pct && document.activeElement !== range) setPercent(stats.canary?.percent ?? 10);
    },
    renderButtons(stats) {
      canaryVersion = stats.canary?.version;
      const hasCanary = !!stats.canary;
      applyBtn.textContent = hasCanary ? 'Update canary' : 'Start canary';
      applyBtn.disabled = running;
      promoteBtn.disabled = running || !hasCanary;
      endBtn.disabled = running || !hasCanary;
    },
    pick(version, stats) {
      versionSelect.value = version;
      if (!percentDirty && !stats.canary) setPercent(10);
      root.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
      pct.focus();
      pct.select();
      say(status, `Set the share for ${version}, then press ${applyBtn.textContent}.`);
    },
    run,
    busy: () => running,
    showError: (message) => say(error, message),
  };
}
