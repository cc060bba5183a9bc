// `--since`/`--until` values as docker's client sends them (timetypes.GetTimestamp).
import { UsageError } from '../args.ts';
import { parseGoDuration } from './run-options.ts';

/**
 * A duration before now (`10m`: unix seconds), seconds as given (`1700000000.5`), or a date
 * (`2013-01-02T13:23:37Z`: seconds.nanoseconds); undefined for no value. `name` names the flag
 * in the error.
 */
export function timeArg(v: string | undefined, name: string): string | undefined {
  if (v === undefined || v === '') return undefined;
  const d = v === '0' ? undefined : parseGoDuration(v);
  if (d !== undefined) return String(Math.floor((Date.now() - d / 1e6) / 1000));
  if (/^\d+(\.\d+)?$/.test(v)) return v;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new UsageError(`invalid value for "${name}": ${v}`);
  return (t / 1000).toFixed(9);
}
