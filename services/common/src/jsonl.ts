/** JSON Lines: one object per line. Blank, torn or non-object lines are skipped, not fatal. */
export function parseJsonLines<T extends object = Record<string, unknown>>(text: string): T[] {
  const out: T[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t) continue;
    try {
      const v = JSON.parse(t) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) out.push(v as T);
    } catch {
      // a half-written last line or foreign text: not a record
    }
  }
  return out;
}
