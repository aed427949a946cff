/** The admin token and operator name, kept for this browser tab only (sessionStorage). */

const TOKEN_KEY = 'nst.admin.token';
const ACTOR_KEY = 'nst.admin.actor';

function read(key: string): string | null {
  try {
    return window.sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

function write(key: string, value: string | null): void {
  try {
    if (value === null) window.sessionStorage.removeItem(key);
    else window.sessionStorage.setItem(key, value);
  } catch {
    /* storage unavailable (private mode): the token lives only in memory */
  }
}

let memoryToken: string | null = read(TOKEN_KEY);
let memoryActor: string = read(ACTOR_KEY) ?? 'operator';

export const session = {
  token(): string | null {
    return memoryToken;
  },
  setToken(token: string | null): void {
    memoryToken = token;
    write(TOKEN_KEY, token);
  },
  actor(): string {
    return memoryActor;
  },
  setActor(actor: string): void {
    memoryActor = actor.trim() || 'operator';
    write(ACTOR_KEY, memoryActor);
  },
};

/** The gateway accepts actor names made of letters, digits, `_ . @ -` and spaces (1–64). */
export function cleanActor(name: string): string {
  const cleaned = name.replace(/[^\w.@ -]/g, '').trim().slice(0, 64);
  return cleaned || 'operator';
}
