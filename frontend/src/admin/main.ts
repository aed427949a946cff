/**
 * Operator page entry point: sign-in with the admin token, then one panel per model and
 * the jobs panel, refreshed every 5 s while the page is visible. A 401 anywhere signs
 * out with "invalid token".
 */
import { byId } from '../dom.ts';
import { ApiError, checkToken, listModels, modelHistory, modelStats, promote, rollback, setCanary, type ModelInfo } from './api.ts';
import { createJobsPanel, type JobsPanel } from './jobs.ts';
import { cleanActor, session } from './token.ts';
import { h, say } from './ui.ts';
import { createModelPanel, type ModelPanel } from './versions.ts';

const REFRESH_MS = 5_000;

const el = {
  signIn: byId('sign-in', HTMLElement),
  signInForm: byId('sign-in-form', HTMLFormElement),
  token: byId('token-input', HTMLInputElement),
  actor: byId('actor-input', HTMLInputElement),
  signInBtn: byId('sign-in-btn', HTMLButtonElement),
  signInError: byId('sign-in-error', HTMLDivElement),
  sessionBar: byId('session-bar', HTMLDivElement),
  actorBar: byId('actor-bar', HTMLInputElement),
  signOut: byId('sign-out', HTMLButtonElement),
  dashboard: byId('dashboard', HTMLDivElement),
  pageError: byId('page-error', HTMLDivElement),
  nav: byId('model-nav', HTMLElement),
  models: byId('models', HTMLDivElement),
  jobsSlot: byId('jobs-slot', HTMLDivElement),
  refreshStatus: byId('refresh-status', HTMLSpanElement),
  refreshBtn: byId('refresh-btn', HTMLButtonElement),
};

const panels = new Map<string, ModelPanel>();
let jobs: JobsPanel | undefined;
let timer: number | undefined;
let refreshing: Promise<void> | undefined;
let signedIn = false;

function showSignIn(message = ''): void {
  signedIn = false;
  stopTimer();
  session.setToken(null);
  el.dashboard.hidden = true;
  el.sessionBar.hidden = true;
  el.signIn.hidden = false;
  el.actor.value = session.actor();
  el.token.value = '';
  say(el.signInError, message);
  el.token.focus();
}

function onAuthError(err: ApiError): void {
  showSignIn(`Invalid token: ${err.message}. Sign in again.`);
}

async function afterAction(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) onAuthError(err);
    throw err;
  }
  await refresh();
}

const actions = {
  canary: (model: string, version: string | undefined, percent: number, reason?: string) => afterAction(() => setCanary(model, version, percent, reason)),
  promote: (model: string, reason?: string) => afterAction(() => promote(model, reason)),
  rollback: (model: string, version: string | undefined, reason?: string) => afterAction(() => rollback(model, version, reason)),
};

function ensurePanels(models: ModelInfo[]): void {
  const names = models.map((m) => m.name);
  for (const [name, panel] of panels) {
    if (!names.includes(name)) {
      panel.root.remove();
      panels.delete(name);
    }
  }
  for (const m of models) {
    if (!panels.has(m.name)) {
      const panel = createModelPanel(m, actions);
      panels.set(m.name, panel);
    }
  }
  el.models.replaceChildren(...models.map((m) => panels.get(m.name)!.root));
  el.nav.replaceChildren(...(models.length > 1 ? models.map((m) => h('a', { href: `#model-${m.name}`, className: 'nav-chip' }, m.name)) : []), h('a', { href: '#jobs', className: 'nav-chip' }, 'Training jobs'));
  jobs?.setModels(names);
}

async function loadModels(): Promise<void> {
  const models = await listModels();
  const known = [...panels.keys()].join(',');
  if (known !== models.map((m) => m.name).join(',')) ensurePanels(models);
  await Promise.all(
    models.map(async (m) => {
      const panel = panels.get(m.name)!;
      try {
        const [stats, history] = await Promise.all([modelStats(m.name), modelHistory(m.name)]);
        panel.update(m, stats, history);
      } catch (err) {
        panel.showError(`Could not load ${m.name}: ${(err as Error).message}`);
      }
    }),
  );
}

async function refreshNow(): Promise<void> {
  if (!signedIn) return;
  try {
    await Promise.all([
      loadModels().then(
        () => say(el.pageError, ''),
        (err: Error) => say(el.pageError, `Could not load the models: ${err.message}`),
      ),
      jobs?.refresh(),
    ]);
    el.refreshStatus.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  } finally {
    schedule();
  }
}

let queued: Promise<void> | undefined;

/** Refreshes now, or right after the refresh in flight (so an action's result shows). */
function refresh(): Promise<void> {
  if (!refreshing) {
    refreshing = refreshNow().finally(() => (refreshing = undefined));
    return refreshing;
  }
  queued ??= refreshing.then(() => {
    queued = undefined;
    return refresh();
  });
  return queued;
}

function stopTimer(): void {
  if (timer !== undefined) window.clearTimeout(timer);
  timer = undefined;
}

function schedule(): void {
  stopTimer();
  if (signedIn && document.visibilityState === 'visible') timer = window.setTimeout(() => void refresh(), REFRESH_MS);
}

function enterDashboard(): void {
  signedIn = true;
  el.signIn.hidden = true;
  el.sessionBar.hidden = false;
  el.dashboard.hidden = false;
  el.actorBar.value = session.actor();
  if (!jobs) {
    jobs = createJobsPanel(onAuthError);
    el.jobsSlot.replaceChildren(jobs.root);
  }
  void refresh();
}

el.signInForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const token = el.token.value.trim();
  if (!token) {
    say(el.signInError, 'Paste the admin token.');
    el.token.focus();
    return;
  }
  session.setActor(cleanActor(el.actor.value));
  session.setToken(token);
  el.signInBtn.disabled = true;
  say(el.signInError, '');
  try {
    await checkToken();
    enterDashboard();
  } catch (err) {
    session.setToken(null);
    const msg = err instanceof ApiError && err.status === 401 ? `Invalid token: ${err.message}.` : `Could not sign in: ${(err as Error).message}`;
    say(el.signInError, msg);
    el.token.select();
    el.token.focus();
  } finally {
    el.signInBtn.disabled = false;
  }
});

el.actorBar.addEventListener('change', () => {
  session.setActor(cleanActor(el.actorBar.value));
  el.actorBar.value = session.actor();
});
el.signOut.addEventListener('click', () => showSignIn(''));
el.refreshBtn.addEventListener('click', () => void refresh());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && signedIn) void refresh();
  else stopTimer();
});

if (session.token()) {
  // A token from earlier in this tab: check it quietly.
  checkToken().then(enterDashboard, (err: unknown) => showSignIn(err instanceof ApiError && err.status === 401 ? `Invalid token: ${err.message}.` : ''));
} else {
  el.signIn.hidden = false;
  el.actor.value = session.actor();
}
