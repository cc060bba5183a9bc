/**
 * Reading and writing cgroup interface files, the part v1 and v2 share (v1/files.ts and
 * v2/files.ts add each version's own helpers). A write that the kernel refuses throws
 * `FILE: write VALUE: REASON` (resources.ts puts `cgroup PATH: ` in front), so the user sees what
 * was written where and why it failed.
 */
import { closeSync, constants as fsc, existsSync, openSync, readFileSync, writeSync } from 'node:fs';

/** strerror(3) texts for the errnos cgroupfs returns (Node 20 only gives the code). */
const STRERROR: Readonly<Record<string, string>> = {
  EINVAL: 'Invalid argument',
  EBUSY: 'Device or resource busy',
  ENOENT: 'No such file or directory',
  EPERM: 'Operation not permitted',
  EACCES: 'Permission denied',
  ENOSPC: 'No space left on device',
  ERANGE: 'Numerical result out of range',
  EROFS: 'Read-only file system',
  ENODEV: 'No such device',
  ENXIO: 'No such device or address',
  EOPNOTSUPP: 'Operation not supported',
  ENOTSUP: 'Operation not supported',
  EAGAIN: 'Resource temporarily unavailable',
  ENOMEM: 'Cannot allocate memory',
  EIO: 'Input/output error',
};

/** The kernel's reason for a failed file operation, as strerror(3) words it. */
export function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return (err.code && STRERROR[err.code]) ?? err.code ?? err.message;
}

/** An error of a write the kernel refused; `errno` lets callers react to EBUSY or EINVAL. */
export class WriteError extends Error {
  constructor(message: string, readonly errno: string | undefined) {
    super(message);
  }
}

export function has(dir: string, file: string): boolean {
  return existsSync(`${dir}/${file}`);
}

/**
 * Writes one value with one write(2) (the kernel parses each write on its own). No O_CREAT: a
 * missing interface file is an error, never a new file. No O_RDWR: kernfs refuses to open
 * write-only files such as memory.reclaim for reading. O_TRUNC is a no-op on cgroupfs and keeps
 * a fake cgroupfs' files exact.
 */
export function write(dir: string, file: string, value: string | number | bigint): void {
  try {
    const fd = openSync(`${dir}/${file}`, fsc.O_WRONLY | fsc.O_TRUNC);
    try {
      writeSync(fd, String(value));
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw new WriteError(`${file}: write ${value}: ${reason(e)}`, (e as NodeJS.ErrnoException).code);
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

/** A finite number, or undefined (the default reading of a flat-keyed file's values). */
function finite(v: string): number | undefined {
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * A flat-keyed file: "key value" per line (memory.stat, cpu.stat, cpuacct.stat, memory.events).
 * `value` reads each value; the keys it gives undefined for are left out.
 */
export function readKeyed(dir: string, file: string, value: (v: string) => number | undefined = finite): Record<string, number> | undefined {
  const s = read(dir, file);
  if (s === undefined) return undefined;
  const out: Record<string, number> = {};
  for (const line of s.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (!k || v === undefined) continue;
    const n = value(v);
    if (n !== undefined) out[k] = n;
  }
  return out;
}
