/**
 * v1 memory controller: memory.limit_in_bytes, memory.memsw.limit_in_bytes (memory + swap),
 * memory.soft_limit_in_bytes, memory.swappiness, memory.oom_control and the kmem limits.
 *
 * As in runc, 0 leaves a byte limit unset and -1 means unlimited. The kernel keeps
 * memsw >= limit at every moment, so the order of the two writes depends on the direction.
 */
import { release } from 'node:os';
import type { Controller, Stats } from '../controller.ts';
import type { Int64, MemoryResources, Resources } from '../../spec/types.ts';
import { has, read, readKeyed, write, WriteError } from '../files.ts';
import { readNumber } from './files.ts';

const LIMIT = 'memory.limit_in_bytes';
const MEMSW = 'memory.memsw.limit_in_bytes';

/** v1 reports "unlimited" as the largest page-aligned int64 (9223372036854771712). */
function unlimited(n: number): boolean {
  return n < 0 || n >= 2 ** 62;
}

function setLimit(dir: string, limit: Int64): void {
  try {
    write(dir, LIMIT, limit);
  } catch (e) {
    if (!(e instanceof WriteError) || e.errno !== 'EBUSY') throw e;
    // the kernel could not reclaim down to the new limit: say how much is in use
    const usage = readNumber(dir, 'memory.usage_in_bytes');
    const max = readNumber(dir, 'memory.max_usage_in_bytes');
    throw new Error(`${e.message} (the limit is below what the container uses: current usage ${usage} bytes, peak ${max} bytes)`);
  }
}

/** limit and swap (memory+swap) in the order that keeps memsw >= limit after each write. */
function setLimitAndSwap(dir: string, m: MemoryResources, warnings: string[]): void {
  const limit = m.limit ?? 0;
  let swap = m.swap ?? 0;
  const memsw = has(dir, MEMSW);
  // runc: an unlimited memory limit without a swap setting also lifts the swap limit
  if (limit === -1 && swap === 0 && memsw) swap = -1;
  if (limit > 0 && swap > 0 && swap < limit) {
    throw new Error(`memory.swap ${swap} is below memory.limit ${limit}: in cgroup v1 swap is the limit of memory + swap, so it must be at least the memory limit (or -1 for unlimited)`);
  }
  if (swap !== 0 && !memsw) {
    if (swap !== -1) warnings.push(`memory.swap ${swap}: swap limit not supported by this kernel (no memory.memsw.*: swap accounting is off, boot with swapaccount=1); only the memory limit is set`);
    swap = 0;
  }
  if (limit === 0 && swap !== 0 && swap !== -1) {
    // swap alone: it must stay above the current limit
    const cur = readNumber(dir, LIMIT) ?? 0;
    if (!unlimited(cur) && swap < cur) {
      throw new Error(`memory.swap ${swap} is below the current memory limit ${cur}: in cgroup v1 swap is the limit of memory + swap`);
    }
  }
  if (limit !== 0 && swap !== 0) {
    const cur = readNumber(dir, LIMIT) ?? 0;
    // raising: memsw first (the new memsw is above the current limit); lowering: limit first
    if (swap === -1 || (!unlimited(cur) && cur < swap)) {
      write(dir, MEMSW, swap);
      swap = 0;
    }
  }
  if (limit !== 0) setLimit(dir, limit);
  if (swap !== 0) write(dir, MEMSW, swap);
}

/** A kmem limit file: written where the kernel has it, and checked, because kernels ≥ 5.16 accept and ignore it. */
function setKmem(dir: string, file: string, value: Int64, what: string, warnings: string[]): void {
  if (!has(dir, file)) {
    warnings.push(`${what} ${value}: this kernel has no ${file} (kernel memory accounting without limits); ignored`);
    return;
  }
  write(dir, file, value);
  const after = readNumber(dir, file);
  // the kernel rounds down to whole pages (4 KiB here, up to 64 KiB elsewhere)
  const took = after !== undefined && (value === -1 ? unlimited(after) : after <= value && BigInt(value) - BigInt(after) < 65536n);
  if (!took) {
    warnings.push(`${what} ${value}: Linux ${release()} accepts ${file} but does not enforce it (kernel memory limits are deprecated and ignored by recent kernels; it still reads ${read(dir, file)?.trim()}); not enforced`);
  }
}

function apply(dir: string, res: Resources): string[] {
  const m = res.memory;
  if (!m) return [];
  const warnings: string[] = [];
  setLimitAndSwap(dir, m, warnings);
  if (m.kernel !== undefined && m.kernel !== 0) setKmem(dir, 'memory.kmem.limit_in_bytes', m.kernel, 'memory.kernel', warnings);
  if (m.kernelTCP !== undefined && m.kernelTCP !== 0) setKmem(dir, 'memory.kmem.tcp.limit_in_bytes', m.kernelTCP, 'memory.kernelTCP', warnings);
  if (m.reservation !== undefined && m.reservation !== 0) write(dir, 'memory.soft_limit_in_bytes', m.reservation);
  if (m.disableOOMKiller) write(dir, 'memory.oom_control', '1');
  // swappiness 0 is a real setting (avoid swapping); -1 leaves the kernel's value
  if (m.swappiness !== undefined && m.swappiness !== -1) {
    if (m.swappiness > 100) throw new Error(`memory.swappiness ${m.swappiness}: the range is 0-100`);
    write(dir, 'memory.swappiness', m.swappiness);
  }
  if (m.useHierarchy === false && read(dir, 'memory.use_hierarchy')?.trim() === '1') {
    try {
      write(dir, 'memory.use_hierarchy', '0');
    } catch {
      warnings.push('memory.useHierarchy false: this kernel always accounts hierarchically (memory.use_hierarchy is fixed at 1); ignored');
    }
  }
  return warnings;
}

function data(dir: string, prefix: string): { limit: number; usage: number; max: number; failcnt: number } | undefined {
  const usage = readNumber(dir, `${prefix}.usage_in_bytes`);
  if (usage === undefined) return undefined;
  return {
    usage,
    max: readNumber(dir, `${prefix}.max_usage_in_bytes`) ?? 0,
    failcnt: readNumber(dir, `${prefix}.failcnt`) ?? 0,
    limit: readNumber(dir, `${prefix}.limit_in_bytes`) ?? 0,
  };
}

function stats(dir: string, into: Stats): void {
  const usage = data(dir, 'memory');
  if (!usage) return;
  const raw = readKeyed(dir, 'memory.stat') ?? {};
  const mem: NonNullable<Stats['memory']> = { usage, raw };
  if (raw.cache !== undefined) mem.cache = raw.cache;
  const swap = data(dir, 'memory.memsw');
  if (swap) mem.swap = swap;
  const kernel = data(dir, 'memory.kmem');
  if (kernel) mem.kernel = kernel;
  into.memory = mem;
}

export const memory: Controller = { name: 'memory', apply, stats };
