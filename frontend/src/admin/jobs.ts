/**
 * The fine-tuning jobs panel: each job with status, progress, ETA, its loss curve and a
 * Cancel button, and a small form to start a fine-tune. When the fine-tuning service is
 * down the gateway answers 503; the panel shows that message and the rest of the page
 * carries on.
 */
import type { FinetuneRequestBody, Job } from '@nst/contracts';
import { ApiError, cancelJob, listJobs, retryJob, startFinetune } from './api.ts';
import { lineChart } from './chart.ts';
import { h, duration, replaceKeepingFocus, say, when } from './ui.ts';

export interface JobsPanel {
  root: HTMLElement;
  refresh(): Promise<void>;
  setModels(models: string[]): void;
}

const ACTIVE = new Set(['queued', 'running']);
/** Ended without a result the operator wanted: the service runs these again on request. */
const RETRIABLE = new Set(['failed', 'cancelled', 'interrupted']);

export function createJobsPanel(onAuthError: (err: ApiError) => void): JobsPanel {
  const list = h('div', { className: 'jobs-list', id: 'jobs-list' });
  const status = h('p', { className: 'status', id: 'jobs-status', role: 'status', 'aria-live': 'polite' });
  const error = h('div', { className: 'alert alert-error', id: 'jobs-error', role: 'alert', hidden: true });

  // Start form.
  const modelSel = h('select', { id: 'ft-model', name: 'model', required: true });
  const num = (name: keyof FinetuneRequestBody, label: string, attrs: Record<string, string | number>) => {
    const input = h('input', { type: 'number', id: `ft-${name}`, name, inputmode: 'decimal', ...attrs });
    return { input, field: h('div', { className: 'field' }, h('label', { for: input.id }, label), input) };
  };
  const steps = num('steps', 'Steps', { min: 1, max: 100000, step: 1, value: 200 });
  const imageSize = num('image_size', 'Image size (px)', { min: 32, max: 512, step: 4, placeholder: 'default (256)' });
  const batch = num('batch_size', 'Batch size', { min: 1, max: 16, step: 1, placeholder: 'default (4)' });
  const lr = num('learning_rate', 'Learning rate', { min: 0, max: 0.1, step: 'any', placeholder: 'default (0.001)' });
  const sw = num('style_weight', 'Style weight', { min: 0, step: 'any', placeholder: 'default' });
  const cw = num('content_weight', 'Content weight', { min: 0, step: 'any', placeholder: 'default' });
  const tw = num('tv_weight', 'TV weight', { min: 0, step: 'any', placeholder: 'default' });
  const canaryPct = num('canary_percent', 'Canary share (%)', { min: 1, max: 100, step: 1, value: 20 });
  const dataSel = h('select', { id: 'ft-data', name: 'data' }, h('option', { value: 'both' }, 'Feedback + base'), h('option', { value: 'feedback' }, 'Feedback'), h('option', { value: 'base' }, 'Base set'));
  const publishSel = h('select', { id: 'ft-publish', name: 'publish' }, h('option', { value: 'canary' }, 'As a canary'), h('option', { value: 'latest' }, 'As the live version'), h('option', { value: 'none' }, "Don't publish"));
  const startBtn = h('button', { type: 'submit', className: 'btn btn-primary' }, 'Start fine-tune');
  const formStatus = h('p', { className: 'status', role: 'status', 'aria-live': 'polite' });
  const formError = h('div', { className: 'alert alert-error', role: 'alert', hidden: true });
  publishSel.addEventListener('change', () => (canaryPct.field.hidden = publishSel.value !== 'canary'));

  const form = h(
    'form',
    { className: 'admin-finetune', novalidate: true, 'aria-labelledby': 'ft-title' },
    h('h3', { className: 'admin-subtitle', id: 'ft-title' }, 'Start a fine-tune'),
    h(
      'div',
      { className: 'admin-fields' },
      h('div', { className: 'field' }, h('label', { for: modelSel.id }, 'Model'), modelSel),
      steps.field,
      h('div', { className: 'field' }, h('label', { for: dataSel.id }, 'Training data'), dataSel),
      h('div', { className: 'field' }, h('label', { for: publishSel.id }, 'Publish'), publishSel),
      canaryPct.field,
    ),
    h('details', { className: 'options' }, h('summary', {}, 'Training parameters'), h('div', { className: 'admin-fields' }, imageSize.field, batch.field, lr.field, sw.field, cw.field, tw.field)),
    h('div', { className: 'actions' }, startBtn),
    formStatus,
    formError,
  );

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    say(formError, '');
    const req: FinetuneRequestBody = { model: modelSel.value, data: dataSel.value as FinetuneRequestBody['data'], publish: publishSel.value as 'latest' | 'none' | 'canary' };
    for (const { input } of [steps, imageSize, batch, lr, sw, cw, tw, ...(publishSel.value === 'canary' ? [canaryPct] : [])]) {
      if (input.value === '') continue;
      const v = Number(input.value);
      if (!Number.isFinite(v) || !input.checkValidity()) {
        say(formError, `${input.labels?.[0]?.textContent ?? input.name} is not a valid number.`);
        input.focus();
        return;
      }
      (req as unknown as Record<string, number>)[input.name] = v;
    }
    if (!req.model) {
      say(formError, 'Choose a model.');
      return;
    }
    startBtn.disabled = true;
    say(formStatus, 'Starting…');
    try {
      const job = await startFinetune(req);
      say(formStatus, `Started job ${job.id}.`, 'ok');
      await refresh();
    } catch (err) {
      say(formStatus, '');
      if (err instanceof ApiError && err.status === 401) onAuthError(err);
      else say(formError, `Could not start the fine-tune: ${(err as Error).message}`);
    } finally {
      startBtn.disabled = false;
    }
  });

  const root = h(
    'section',
    { className: 'card admin-jobs', id: 'jobs', 'aria-labelledby': 'jobs-title' },
    h('h2', { className: 'card-title', id: 'jobs-title' }, 'Training jobs'),
    error,
    status,
    list,
    form,
  );

  let signature = '';

  /** Pixel width for a loss chart inside a job card (the list may be empty and hidden). */
  function chartWidth(): number {
    const style = getComputedStyle(root);
    const inner = root.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return inner > 0 ? Math.max(240, Math.round(inner - 26)) : 600;
  }

  function jobCard(job: Job): HTMLElement {
    const progress = job.steps ? Math.min(1, job.step / job.steps) : null;
    const losses = job.loss_history.map((p) => ({ step: p.step, loss: p.total }));
    const last = losses[losses.length - 1];
    const cancel = ACTIVE.has(job.state)
      ? h('button', { type: 'button', className: 'btn btn-small btn-secondary', 'data-key': `cancel:${job.id}`, 'aria-label': `Cancel job ${job.id}` }, 'Cancel')
      : null;
    cancel?.addEventListener('click', async () => {
      if (!window.confirm(`Cancel job ${job.id}?`)) return;
      cancel.disabled = true;
      try {
        await cancelJob(job.id);
        say(status, `Cancelled job ${job.id}.`, 'ok');
        await refresh();
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) onAuthError(err);
        else say(error, `Could not cancel job ${job.id}: ${(err as Error).message}`);
        cancel.disabled = false;
      }
    });
    const retry = RETRIABLE.has(job.state)
      ? h('button', { type: 'button', className: 'btn btn-small btn-secondary', 'data-key': `retry:${job.id}`, 'aria-label': `Retry job ${job.id}` }, 'Retry')
      : null;
    retry?.addEventListener('click', async () => {
      retry.disabled = true;
      try {
        const again = await retryJob(job.id);
        say(status, `Job ${job.id} runs again as ${again.id}.`, 'ok');
        await refresh();
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) onAuthError(err);
        else say(error, `Could not retry job ${job.id}: ${(err as Error).message}`);
        retry.disabled = false;
      }
    });
    const held = job.result?.heldout;
    const fmt = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? String(Number(v.toPrecision(4))) : null);
    const heldText = held && fmt(held.parent?.total) && fmt(held.trained?.total) ? `held-out loss ${fmt(held.parent?.total)} → ${fmt(held.trained?.total)}` : null;
    const result = job.result
      ? [job.result.version ? `version ${job.result.version}` : null, job.result.published !== undefined ? `published: ${String(job.result.published)}` : null, heldText, job.result.reason ?? null].filter(Boolean).join(' · ')
      : '';
    return h(
      'article',
      { className: `job job-${job.state}`, 'data-job': job.id, 'aria-labelledby': `job-${job.id}-title` },
      h(
        'header',
        { className: 'job-head' },
        h('h3', { id: `job-${job.id}-title`, className: 'job-title' }, `${job.model || 'model ?'} · ${job.id}`),
        h('span', { className: `badge badge-job-${job.state}` }, job.state),
        cancel,
        retry,
      ),
      h(
        'p',
        { className: 'muted small' },
        [
          job.created_at ? `started ${when(job.created_at)}` : null,
          job.finished_at ? `finished ${when(job.finished_at)}` : null,
          ACTIVE.has(job.state) && job.phase ? job.phase : null,
          `${job.dataset.images} images`,
          `step ${job.step}${job.steps ? ` of ${job.steps}` : ''}`,
          ACTIVE.has(job.state) && job.eta_seconds !== null ? `ETA ${duration(job.eta_seconds)}` : null,
          last ? `loss ${Number(last.loss.toPrecision(4))}` : null,
        ]
          .filter(Boolean)
          .join(' · '),
      ),
      progress !== null ? h('progress', { max: 1, value: progress, 'aria-label': `Progress of job ${job.id}` }) : null,
      result ? h('p', { className: 'small' }, `Result: ${result}`) : null,
      job.error ? h('p', { className: 'small', 'data-kind': 'error' }, `Error: ${job.error}`) : null,
      losses.length ? h('p', { className: 'muted small chart-caption' }, losses.some((p, i) => p.step !== i + 1) ? 'Training loss by step' : 'Training loss per logged point') : null,
      losses.length
        ? lineChart({ series: [{ name: 'loss', points: losses.map((p) => ({ x: p.step, y: p.loss, label: `step ${p.step}: loss ${Number(p.loss.toPrecision(4))}` })) }], label: `Loss curve of job ${job.id}: ${losses.length} points`, width: chartWidth(), height: 160, className: 'chart-loss' })
        : h('p', { className: 'muted small' }, 'No loss values yet.'),
    );
  }

  async function refresh(): Promise<void> {
    try {
      const jobs = await listJobs();
      say(error, '');
      jobs.sort((a, b) => (b.created_at ?? '').localeCompare(a.created_at ?? ''));
      const sig = JSON.stringify(jobs);
      say(status, jobs.length ? `${jobs.length} job${jobs.length === 1 ? '' : 's'}, ${jobs.filter((j) => ACTIVE.has(j.state)).length} active.` : 'No fine-tuning jobs yet.');
      if (sig !== signature) {
        signature = sig;
        replaceKeepingFocus(list, ...jobs.map(jobCard));
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        onAuthError(err);
        return;
      }
      signature = '';
      list.replaceChildren();
      say(status, '');
      const msg = (err as Error).message;
      say(error, err instanceof ApiError && err.status === 503 ? `Fine-tuning is unavailable: ${msg}` : `Could not load the jobs: ${msg}`);
    }
  }

  return {
    root,
    refresh,
    setModels(models: string[]) {
      const current = modelSel.value;
      modelSel.replaceChildren(...models.map((m) => h('option', { value: m }, m)));
      if (models.includes(current)) modelSel.value = current;
    },
  };
}
