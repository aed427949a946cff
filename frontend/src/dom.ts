/** Small DOM helpers. */

/** The element with this id, checked to be of the expected type. */
export function byId<T extends HTMLElement>(id: string, type: { new (): T; prototype: T }): T {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`missing element #${id}`);
  return el;
}

/** Shows a message in an alert/status element, or hides it when `text` is empty. */
export function setMessage(el: HTMLElement, text: string): void {
  el.textContent = text;
  if (el.getAttribute('role') === 'alert') el.hidden = text === '';
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1).replace(/\.0$/, '')} MB`;
}

/** Reads and writes small preferences; storage may be unavailable (private mode). */
export const prefs = {
  get(key: string): string | null {
    try {
      return window.localStorage.getItem(`nst.${key}`);
    } catch {
      return null;
    }
  },
  set(key: string, value: string): void {
    try {
      window.localStorage.setItem(`nst.${key}`, value);
    } catch {
      /* ignore */
    }
  },
};
