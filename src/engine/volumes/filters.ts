/**
 * docker's volume filters (volume/service: filtersToBy, byLabelFilter; api/types/filters' Match,
 * ExactMatch and MatchKVList), with docker's messages for a filter it does not take.
 */
import { InvalidParameterError } from '../errors.ts';
import type { VolumeMeta } from './meta.ts';

export type Filters = Record<string, string[]>;

/** list: `dangling`, `driver`, `label`, `name` (and `label!`, which docker's byLabelFilter honours) */
export const LIST_FILTERS = new Set(['dangling', 'driver', 'label', 'label!', 'name']);
/** prune in API 1.41 (docker 20.10): labels only; `all` came with 1.42 */
export const PRUNE_FILTERS = new Set(['label', 'label!']);

/** docker's invalidFilter: `Invalid filter 'x'` or `Invalid filter 'dangling=[v]'` */
export function validateFilters(filters: Filters, accepted: ReadonlySet<string>): void {
  for (const k of Object.keys(filters)) {
    if (!accepted.has(k)) throw new InvalidParameterError(`Invalid filter '${k}'`);
  }
  const d = filters.dangling;
  if (d && d.length > 0 && !d.some((v) => ['true', '1', 'false', '0'].includes(v))) {
    throw new InvalidParameterError(`Invalid filter 'dangling=[${d.join(' ')}]'`);
  }
}

/** filters.Args.Match: a value equal to the name, or a regular expression found in it. */
function matchName(values: string[], name: string): boolean {
  for (const v of values) {
    if (v === name) return true;
    try {
      if (new RegExp(v).test(name)) return true;
    } catch {
      // not a regular expression: only equality could match
    }
  }
  return false;
}

/** filters.Args.MatchKVList: every `key` or `key=value` holds in `labels` (none given: true). */
function matchKVList(values: string[] | undefined, labels: Record<string, string> | null): boolean {
  if (!values || values.length === 0) return true;
  if (!labels) return false;
  return values.every((v) => {
    const eq = v.indexOf('=');
    const k = eq < 0 ? v : v.slice(0, eq);
    if (!(k in labels)) return false;
    return eq < 0 || labels[k] === v.slice(eq + 1);
  });
}

export function matchLabels(filters: Filters, labels: Record<string, string> | null): boolean {
  if (!matchKVList(filters.label, labels)) return false;
  const not = filters['label!'];
  if (not && not.length > 0 && matchKVList(not, labels)) return false;
  return true;
}

/** Whether `meta` passes the list filters (already validated). */
export function matchList(filters: Filters, meta: VolumeMeta): boolean {
  const drivers = filters.driver ?? [];
  if (drivers.length > 0 && !drivers.includes(meta.driver)) return false;
  if (filters.name && filters.name.length > 0 && !matchName(filters.name, meta.name)) return false;
  if (!matchLabels(filters, meta.labels)) return false;
  const d = filters.dangling;
  if (d && d.length > 0) {
    const dangling = d.includes('true') || d.includes('1');
    if ((meta.users.length === 0) !== dangling) return false;
  }
  return true;
}
