// `--filter name=value` flags as docker's opts.FilterOpt takes them, for the API's `filters` query.
import { FlagValueError } from './command.ts';

/**
 * The filter map of repeated `--filter` values: names lower-cased and both sides trimmed, as
 * docker's FilterOpt does; a value without `=` is docker's flag error (exit 125). `flag` is the
 * flag as docker's help names it (`-f, --filter` or `--filter`).
 */
export function filterFlags(values: readonly string[], flag = '-f, --filter'): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const v of values) {
    if (v === '') continue;
    const eq = v.indexOf('=');
    if (eq < 0) throw new FlagValueError(v, flag, 'bad format of filter (expected name=value)');
    (out[v.slice(0, eq).trim().toLowerCase()] ??= []).push(v.slice(eq + 1).trim());
  }
  return out;
}
