/**
 * Reading and writing cgroup v2 interface files: the small helpers every v2 controller shares.
 * Only files that exist are written (a v2 file is missing when its controller is not enabled for
 * the cgroup, or when the kernel is too old for it), and every failure names the file and value.
 */
import { closeSync, constants, existsSync, openSync, readFileSync, writeSync } from 'node:fs';

/** What v2 reports as "max" (no limit) in the runc-shaped statistics, as runc does (math.MaxUint64). */
export const UNLIMITED = 2 ** 64 - 1;

export function has(dir: string, file: string): boolean {
  return existsSync(`${dir}/${file}`);
}

/** Writes `value` to `dir/file`; the error says which file, which value and the kernel's answer. */
export function write(dir: string, file: string, value: string): void {
  try {
    // no O_CREAT (a missing file is an error, never a new regular file) and no O_RDWR (kernfs
    // refuses to open write-only files such as memory.reclaim for reading); O_TRUNC is a no-op
    // on cgroupfs and keeps a fake cgroupfs' files exact
    const fd = openSync(`${dir}/${file}`, constants.O_WRONLY | constants.O_TRUNC);
    try {
      // one write(2): the kernel parses each write on its own
      writeSync(fd, value);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(`cgroup v2: write "${value}" to ${dir}/${file}: ${err.code ?? err.message}`);
  }
}

/** The file's text, or undefined when it does not exist (or cannot be read). */
export function read(dir: string, file: string): string | undefined {
  try {
    return readFileSync(`${dir}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

/** A single-value file: a number, "max" as UNLIMITED, undefined if absent. */
export function readValue(dir: string, file: string): number | undefined {
  const s = read(dir, file)?.trim();
  if (s === undefined || s === '') return undefined;
  if (s === 'max') return UNLIMITED;
  const n = Number(s.split(/\s+/)[0]);
  return Number.isFinite(n) ? n : undefined;
}

/** A flat-keyed file ("key value" lines: memory.stat, memory.events, cpu.stat). */
export function readKeyed(dir: string, file: string): Record<string, number> | undefined {
  const s = read(dir, file);
  if (s === undefined) return undefined;
  const out: Record<string, number> = {};
  for (const line of s.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (!k || v === undefined) continue;
    out[k] = v === 'max' ? UNLIMITED : Number(v);
  }
  return out;
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
export function limitValue(n: number): string {
  return n === -1 ? 'max' : String(n);
}

export function checkInt(what: string, n: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${what}: ${n} is out of range (${min}..${max})`);
  }
}
