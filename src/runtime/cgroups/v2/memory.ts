/**
 * cgroup v2 memory: limit → memory.max, reservation → memory.low, swap → memory.swap.max.
 * The spec's swap is memory+swap (the v1 memsw meaning); v2 limits swap alone, so berth writes
 * swap − limit, as runc does. v2 has no OOM-killer switch, no swappiness, no kernel/TCP limits:
 * asking for them is a warning, never a silent success.
 */
import type { Int64, Resources } from '../../spec/types.ts';
import type { Controller, Stats } from '../controller.ts';
import { has, write } from '../files.ts';
import { checkInt, limitValue, missing, readKeyed, readValue, UNLIMITED } from './files.ts';

/**
 * The value for memory.swap.max from the spec's memory+swap `swap` and memory `limit` (runc's
 * ConvertMemorySwapToCgroupV2Value): undefined = leave as is, -1 = max.
 */
export function swapMaxValue(swap: Int64 | undefined, limit: Int64 | undefined): Int64 | undefined {
  // no swap given with an unlimited memory: both unlimited, as on v1
  if (limit === -1 && (swap === undefined || swap === 0)) return -1;
  if (swap === undefined || swap === 0) return undefined;
  if (swap === -1) return -1;
  if (swap < -1) throw new Error(`memory.swap: ${swap} is not a limit (-1 is unlimited)`);
  if (limit === undefined || limit === 0 || limit === -1) {
    throw new Error(`memory.swap ${swap}: a swap limit needs a memory limit (the spec's swap is memory+swap)`);
  }
  if (swap < limit) {
    throw new Error(`memory.swap ${swap} is below memory.limit ${limit}: swap is memory+swap, so it must be >= the limit`);
  }
  // exact for int64 values beyond 2^53
  const d = BigInt(swap) - BigInt(limit);
  return Number.isSafeInteger(Number(d)) ? Number(d) : d;
}

/** memory.events as numbers (low, high, max, oom, oom_kill, oom_group_kill), {} if missing. */
export function readMemoryEvents(dir: string): Record<string, number> {
  return readKeyed(dir, 'memory.events') ?? {};
}

export const memory: Controller = {
  name: 'memory',

  apply(dir: string, res: Resources): string[] {
    const m = res.memory;
    if (!m) return [];
    const warnings: string[] = [];
    const why = 'the memory controller is not enabled for this cgroup';

    // limit and reservation: 0 means "not set", as in runc; -1 is unlimited
    const limit = m.limit === 0 ? undefined : m.limit;
    if (limit !== undefined) checkInt('memory.limit', limit, -1);
    const reservation = m.reservation === 0 ? undefined : m.reservation;
    if (reservation !== undefined) checkInt('memory.reservation', reservation, -1);

    // the swap conversion needs the limit: on update without one, the cgroup's current memory.max
    let limitForSwap = limit;
    if (limitForSwap === undefined && m.swap !== undefined && m.swap > 0) {
      const cur = readValue(dir, 'memory.max');
      if (cur !== undefined) limitForSwap = cur === UNLIMITED ? -1 : cur;
    }
    const swap = swapMaxValue(m.swap, limitForSwap);

    if (limit !== undefined && limit !== -1 && m.checkBeforeUpdate) {
      const usage = readValue(dir, 'memory.current');
      if (usage !== undefined && usage > limit) {
        throw new Error(`memory.limit ${limit} is below the current usage ${usage} (checkBeforeUpdate)`);
      }
    }

    if (swap !== undefined) {
      if (has(dir, 'memory.swap.max')) write(dir, 'memory.swap.max', limitValue(swap));
      // no swap accounting: "max" is what the cgroup has anyway; a real limit cannot be kept
      else if (swap !== -1) warnings.push(missing(`memory.swap ${m.swap}`, 'memory.swap.max', 'no swap accounting in this kernel, or the memory controller is not enabled'));
    }
    if (limit !== undefined) {
      if (has(dir, 'memory.max')) write(dir, 'memory.max', limitValue(limit));
      else warnings.push(missing(`memory.limit ${limit}`, 'memory.max', why));
    }
    if (reservation !== undefined) {
      if (has(dir, 'memory.low')) write(dir, 'memory.low', limitValue(reservation));
      else warnings.push(missing(`memory.reservation ${reservation}`, 'memory.low', why));
    }

    if (m.disableOOMKiller) warnings.push('cgroup v2: memory.disableOOMKiller ignored: cgroup v2 has no way to disable the OOM killer');
    if (m.swappiness !== undefined) warnings.push(`cgroup v2: memory.swappiness ${m.swappiness} ignored: cgroup v2 has no per-cgroup swappiness`);
    if (m.kernel !== undefined) warnings.push(`cgroup v2: memory.kernel ${m.kernel} ignored: cgroup v2 accounts kernel memory in memory.max and has no separate limit`);
    if (m.kernelTCP !== undefined) warnings.push(`cgroup v2: memory.kernelTCP ${m.kernelTCP} ignored: cgroup v2 accounts socket memory in memory.max and has no separate limit`);
    if (m.useHierarchy === false) warnings.push('cgroup v2: memory.useHierarchy false ignored: cgroup v2 is always hierarchical');
    return warnings;
  },

  stats(dir: string, into: Stats): void {
    const usage = readValue(dir, 'memory.current');
    if (usage === undefined) return;
    const raw = readKeyed(dir, 'memory.stat') ?? {};
    const events = readMemoryEvents(dir);
    const mem = {
      limit: readValue(dir, 'memory.max') ?? UNLIMITED,
      usage,
      max: readValue(dir, 'memory.peak') ?? 0,
      failcnt: events.max ?? 0,
    };
    into.memory = { cache: raw.file ?? 0, usage: mem, raw };
    const swapUsage = readValue(dir, 'memory.swap.current');
    if (swapUsage !== undefined) {
      const swapLimit = readValue(dir, 'memory.swap.max') ?? UNLIMITED;
      const swapEvents = readKeyed(dir, 'memory.swap.events') ?? {};
      // runc reports v2 swap as memory+swap, the v1 memsw meaning its users expect
      into.memory.swap = {
        usage: swapUsage + usage,
        limit: swapLimit === UNLIMITED || mem.limit === UNLIMITED ? UNLIMITED : swapLimit + mem.limit,
        // v2 keeps no peak of memory+swap (adding the two peaks would overstate it)
        max: 0,
        failcnt: swapEvents.max ?? 0,
      };
    }
  },
};
