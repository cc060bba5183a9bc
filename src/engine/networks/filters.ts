/**
 * docker's network filters: the list's (daemon/network/filter.go FilterNetworks: driver, id,
 * label, name, scope, type, dangling) and the prune's (label, label!, until), with dockerd's
 * messages for a filter or a value it does not take.
 */
import { InvalidParameterError } from '../errors.ts';
import { PREDEFINED } from './validate.ts';
import type { NetworkRecord } from './types.ts';

export type Filters = Record<string, string[]>;

const LIST_FILTERS = new Set(['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type']);
const PRUNE_FILTERS = new Set(['label', 'label!', 'until']);

function validateKeys(filters: Filters, accepted: ReadonlySet<string>): void {
  for (const k of Object.keys(filters)) if (!accepted.has(k)) throw new InvalidParameterError(`Invalid filter '${k}'`);
}

/** filters.Args.Match: equal, or a regular expression found in the value. */
function match(values: string[], s: string): boolean {
  return values.some((v) => {
    if (v === s) return true;
    try {
      return new RegExp(v).test(s);
    } catch {
      return false;
    }
  });
}

/** filters.Args.MatchKVList: every `key` or `key=value` holds. */
function matchKV(values: string[], labels: Record<string, string>): boolean {
  return values.every((v) => {
    const eq = v.indexOf('=');
    const k = eq < 0 ? v : v.slice(0, eq);
    return k in labels && (eq < 0 || labels[k] === v.slice(eq + 1));
  });
}

function matchLabels(filters: Filters, labels: Record<string, string>): boolean {
  if (filters.label && !matchKV(filters.label, labels)) return false;
  const not = filters['label!'];
  return !(not && not.length > 0 && matchKV(not, labels));
}

export interface ListView {
  rec: NetworkRecord;
  /** whether a container is on it (dangling) */
  used: boolean;
}

/** The list's filters checked up front, so a bad one is a 400 whatever the networks are. */
export function listFilter(filters: Filters): (v: ListView) => boolean {
  validateKeys(filters, LIST_FILTERS);
  const d = filters.dangling ?? [];
  if (d.length > 1) throw new InvalidParameterError('got more than one value for filter key "dangling"');
  let dangling: boolean | undefined;
  if (d.length === 1) {
    if (d[0] === '1' || d[0] === 'true') dangling = true;
    else if (d[0] === '0' || d[0] === 'false') dangling = false;
    else throw new InvalidParameterError('invalid value for filter \'dangling\', must be "true" (or "1"), or "false" (or "0")');
  }
  const types = filters.type ?? [];
  for (const t of types) if (t !== 'builtin' && t !== 'custom') throw new InvalidParameterError(`invalid filter: 'type'='${t}'`);
  const has = (k: string): boolean => (filters[k] ?? []).length > 0;
  return ({ rec, used }) => {
    if (has('driver') && !filters.driver!.includes(rec.driver)) return false;
    if (has('name') && !match(filters.name!, rec.name)) return false;
    if (has('id') && !match(filters.id!, rec.id)) return false;
    if (has('label') && !matchKV(filters.label!, rec.labels)) return false;
    if (has('scope') && !filters.scope!.includes('local')) return false;
    const builtin = PREDEFINED.has(rec.name);
    if (dangling !== undefined && dangling !== (!builtin && !used)) return false;
    if (types.length > 0 && !types.some((t) => (t === 'builtin') === builtin)) return false;
    return true;
  };
}

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };

/** Go's time.ParseDuration, in milliseconds; undefined when `s` is not one. */
function parseDuration(s: string): number | undefined {
  const m = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(s);
  if (!m) return s === '0' ? 0 : undefined;
  let total = 0;
  for (const [, n, unit] of s.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) total += Number(n) * UNITS[unit!]!;
  return m[1] === '-' ? -total : total;
}

/**
 * docker's timetypes.GetTimestamp for `until`: a duration before now (`10m`, `1h30m`), seconds
 * since the epoch (`1700000000.5`), or an RFC 3339 date or time (local time when it has no zone).
 * Returns epoch milliseconds.
 */
export function parseUntil(v: string, now = Date.now()): number {
  const d = v === '0' ? undefined : parseDuration(v);
  if (d !== undefined) return now - d;
  if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?)?(Z|[+-]\d{2}:\d{2})?$/.exec(v);
  if (m) {
    const [, y, mo, da, h = '00', mi = '00', se = '00', frac = '', zone] = m;
    const t = Date.parse(`${y}-${mo}-${da}T${h}:${mi}:${se}${frac.slice(0, 4)}${zone ?? ''}`);
    if (!Number.isNaN(t)) return t;
  }
  throw new InvalidParameterError(`invalid filter 'until=${v}': want a duration (10m), seconds since the epoch or an RFC 3339 time`);
}

/** The prune's filters: a record passes when it may be pruned by them. */
export function pruneFilter(filters: Filters, now = Date.now()): (rec: NetworkRecord) => boolean {
  validateKeys(filters, PRUNE_FILTERS);
  const until = filters.until ?? [];
  if (until.length > 1) throw new InvalidParameterError('more than one until filter specified');
  const limit = until.length === 1 ? parseUntil(until[0]!, now) : undefined;
  return (rec) => (limit === undefined || Date.parse(rec.created) <= limit) && matchLabels(filters, rec.labels);
}
