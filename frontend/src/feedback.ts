/** The good/bad feedback form shown under a result. */
import { ApiError, sendFeedback, type StylizeResult } from './api.ts';

export interface FeedbackElements {
  form: HTMLFormElement;
  comment: HTMLTextAreaElement;
  count: HTMLElement;
  submit: HTMLButtonElement;
  status: HTMLElement;
}

export const MAX_COMMENT = 2000;

export interface Feedback {
  /** Resets the form for a new result. */
  attach(result: StylizeResult): void;
}

export function createFeedback(els: FeedbackElements): Feedback {
  let result: StylizeResult | undefined;
  let sent = false;

  const setStatus = (text: string, kind: 'ok' | 'error' | '' = ''): void => {
    els.status.textContent = text;
    els.status.dataset.kind = kind;
  };

  const updateCount = (): void => {
    els.count.textContent = `${els.comment.value.length} / ${MAX_COMMENT}`;
  };
  els.comment.addEventListener('input', updateCount);

  const setEnabled = (enabled: boolean): void => {
    for (const el of Array.from(els.form.elements)) {
      if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement || el instanceof HTMLButtonElement) {
        el.disabled = !enabled;
      }
    }
  };

  els.form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!result || sent) return;
    const choice = els.form.querySelector<HTMLInputElement>('input[name="feedback"]:checked')?.value;
    if (choice !== 'good' && choice !== 'bad') {
      setStatus('Please choose Good or Bad first.', 'error');
      els.form.querySelector<HTMLInputElement>('input[name="feedback"]')?.focus();
      return;
    }
    const comment = els.comment.value.trim().slice(0, MAX_COMMENT);
    const r = result;
    setEnabled(false);
    els.submit.setAttribute('aria-busy', 'true');
    setStatus('Sending feedback…');
    sendFeedback({
      feedback: choice,
      model: r.model,
      content_image_filename: r.content_image_filename,
      output_image_filename: r.output_image_filename,
      timestamp: new Date().toISOString(),
      ...(comment ? { comment } : {}),
    })
      .then((res) => {
        if (result !== r) return;
        sent = true;
        const version = res.version ?? r.version;
        setStatus(`Thank you! Your feedback was recorded${version ? ` (model version ${version})` : ''}.`, 'ok');
      })
      .catch((err: unknown) => {
        if (result !== r) return;
        setEnabled(true);
        const message = err instanceof ApiError ? err.message : 'Something went wrong.';
        setStatus(`Could not send feedback: ${message}`, 'error');
      })
      .finally(() => els.submit.removeAttribute('aria-busy'));
  });

  return {
    attach(r: StylizeResult) {
      result = r;
      sent = false;
      els.form.reset();
      updateCount();
      setEnabled(true);
      setStatus('');
    },
  };
}
