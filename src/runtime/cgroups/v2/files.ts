/**
 * The cgroup v2 helpers every v2 controller shares, on top of ../files.ts (has, read, write),
 * which they share with v1. Only files that exist are written (a v2 file is missing when its
 * controller is not enabled for the cgroup, or when the kernel is too old for it).
 */
import { read, readKeyed as readKeyedWith } from '../files.ts';

/** What v2 reports as "max" (no limit) in the runc-shaped statistics, as runc does (math.MaxUint64). */
export const UNLIMITED = 2 ** 64 - 1;

/** A single-value file: a number, "max" as UNLIMITED, undefined if absent. */
export function readValue(dir: string, file: string): number | undefined {
  const s = read(dir, file)?.trim();
  if (s === undefined || s === '') return undefined;
  if (s === 'max') return UNLIMITED;
  const n = Number(s.split(/\s+/)[0]);
  return Number.isFinite(n) ? n : undefined;
}

/** A flat-keyed file ("key value" lines: memory.stat, memory.events, cpu.stat), "max" as UNLIMITED. */
export function readKeyed(dir: string, file: string): Record<string, number> | undefined {
  return readKeyedWith(dir, file, (v) => (v === 'max' ? UNLIMITED : Number(v)));
}

/** Controllers enabled for this cgroup (its cgroup.controllers), empty if unreadable. */
export function enabledControllers(dir: string): string[] {
  return (read(dir, 'cgroup.controllers') ?? '').trim().split(/\s+/).filter(Boolean);
}

/** The warning for a setting this cgroup cannot honour because `file` is missing. */
export function missing(setting: string, file: string, why: string): string {
  return `cgroup v2: ${setting} ignored: ${file} does not exist (${why})`;
}

/** A limit in spec terms (-1 = unlimited) as a v2 value ("max" or the number). */
export function limitValue(n: number | bigint): string {
  return n === -1 ? 'max' : String(n);
}

const I64_MAX = 2n ** 63n - 1n;

/** `n` is an integer in min..max (default: up to int64's maximum, exactly: a bigint beyond 2^53 is compared as such). */
export function checkInt(what: string, n: number | bigint, min: number, max: number | bigint = I64_MAX): void {
  if ((typeof n === 'number' && !Number.isInteger(n)) || n < min || n > max) {
    throw new Error(`${what}: ${n} is out of range (${min}..${max})`);
  }
}
