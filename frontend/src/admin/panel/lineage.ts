/** Versions in lineage order, and the short name of a version ("model1_v3" → "v3"). */
import type { VersionStats } from '../api.ts';

export const shortVersion = (model: string, version: string | null | undefined): string => (version ? version.replace(`${model}_`, '') : '–');

/** Versions ordered as a tree walk: each version followed by its descendants (lineage). */
export function lineageOrder(versions: VersionStats[]): { v: VersionStats; depth: number }[] {
  const names = new Set(versions.map((v) => v.version));
  const children = new Map<string | null, VersionStats[]>();
  for (const v of versions) {
    const p = v.parent && names.has(v.parent) && v.parent !== v.version ? v.parent : null;
    children.set(p, [...(children.get(p) ?? []), v]);
  }
  const out: { v: VersionStats; depth: number }[] = [];
  const seen = new Set<string>();
  const walk = (parent: string | null, depth: number) => {
    for (const v of children.get(parent) ?? []) {
      if (seen.has(v.version)) continue;
      seen.add(v.version);
      out.push({ v, depth });
      walk(v.version, depth + 1);
    }
  };
  walk(null, 0);
  for (const v of versions) if (!seen.has(v.version)) out.push({ v, depth: 0 }); // cycles
  return out;
}
