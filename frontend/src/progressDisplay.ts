/**
 * Stylise progress: under the Stylise button, and above the previous result while that
 * result stays on screen (still downloadable and rateable) until the new one arrives.
 */
import { setMessage } from './dom.ts';

export interface ProgressView {
  box: HTMLElement;
  bar: HTMLProgressElement;
  text: HTMLElement;
}

export interface ProgressDisplay {
  /** Shows the bars at 0; `views` picks which (the one beside the result only when a result is shown). */
  start(text: string, views: ProgressView[]): void;
  fraction(value: number): void;
  steps(done: number, total: number): void;
  /** No measure of progress (the model is painting): the bars animate. */
  indeterminate(text: string): void;
  say(text: string): void;
  /** Hides the bars; the text under the button stays for the outcome. */
  stop(): void;
}

export function createProgressDisplay(main: ProgressView, beside: ProgressView): ProgressDisplay {
  let shown: ProgressView[] = [];
  const bars = (fn: (bar: HTMLProgressElement) => void): void => shown.forEach((v) => fn(v.bar));
  const say = (text: string): void => shown.forEach((v) => setMessage(v.text, text));
  return {
    start(text, views) {
      shown = views;
      for (const v of [main, beside]) v.box.hidden = !views.includes(v);
      bars((b) => {
        b.max = 1;
        b.value = 0;
      });
      say(text);
    },
    fraction: (value) => bars((b) => (b.value = value)),
    steps(done, total) {
      bars((b) => {
        b.max = total;
        b.value = done;
      });
    },
    indeterminate(text) {
      bars((b) => b.removeAttribute('value'));
      say(text);
    },
    say,
    stop() {
      main.box.hidden = true;
      beside.box.hidden = true;
      setMessage(beside.text, '');
      shown = [];
    },
  };
}
