/**
 * cgroup v2 cpu: shares → cpu.weight (runc's conversion), quota/period → cpu.max, burst →
 * cpu.max.burst, idle → cpu.idle. v2 has no real-time group scheduling: realtime settings are
 * warnings. Statistics come from cpu.stat, which v2 keeps for every cgroup (usage even without
 * the cpu controller; the throttling counters only with it).
 */
import type { Int64, Resources, Uint64 } from '../../spec/types.ts';
import type { Controller, Stats } from '../controller.ts';
import { has, read, write } from '../files.ts';
import { checkInt, missing, readKeyed } from './files.ts';

/** v1 cpu.shares [2, 262144] → v2 cpu.weight [1, 10000], runc's linear map; 0 = unset. */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/**
 * The cpu.max line for a quota and a period (µs): "QUOTA PERIOD", "max PERIOD", or only the quota
 * (the kernel keeps the period). With a period alone, `currentQuota` (cpu.max's first field) is kept.
 */
export function cpuMaxValue(quota: Int64 | undefined, period: Uint64 | undefined, currentQuota = 'max'): string | undefined {
  // 0 means "not set" for both, as in runc
  const q = quota === 0 ? undefined : quota;
  const p = period === 0 ? undefined : period;
  if (q === undefined && p === undefined) return undefined;
  if (q !== undefined && q < -1) throw new Error(`cpu.quota: ${q} is not a quota (-1 is unlimited)`);
  if (q !== undefined && q !== -1) checkInt('cpu.quota', q, 1000);
  if (p !== undefined) checkInt('cpu.period', p, 1000, 1_000_000);
  const qs = q === undefined ? currentQuota : q === -1 ? 'max' : String(q);
  return p === undefined ? qs : `${qs} ${p}`;
}

export const cpu: Controller = {
  name: 'cpu',

  apply(dir: string, res: Resources): string[] {
    const c = res.cpu;
    if (!c) return [];
    const warnings: string[] = [];
    const why = 'the cpu controller is not enabled for this cgroup';

    if (c.shares !== undefined && c.shares !== 0) {
      let shares = Number(c.shares);
      if (c.shares < 2 || c.shares > 262144) {
        // the v1 kernel clamps shares the same way
        shares = c.shares < 2 ? 2 : 262144;
        warnings.push(`cgroup v2: cpu.shares ${c.shares} clamped to ${shares} (the range is 2..262144)`);
      }
      const weight = sharesToWeight(shares);
      if (has(dir, 'cpu.weight')) write(dir, 'cpu.weight', String(weight));
      else warnings.push(missing(`cpu.shares ${c.shares}`, 'cpu.weight', why));
    }
    if (c.idle !== undefined) {
      if (c.idle !== 0 && c.idle !== 1) throw new Error(`cpu.idle: ${c.idle} must be 0 or 1`);
      if (has(dir, 'cpu.idle')) write(dir, 'cpu.idle', String(c.idle));
      else warnings.push(missing(`cpu.idle ${c.idle}`, 'cpu.idle', 'kernel older than 5.15, or the cpu controller is not enabled'));
    }

    // a period alone keeps the cgroup's quota ("QUOTA PERIOD" is cpu.max's format)
    const cur = read(dir, 'cpu.max')?.trim().split(/\s+/)[0] || 'max';
    const max = cpuMaxValue(c.quota, c.period, cur);
    if (max !== undefined) {
      if (has(dir, 'cpu.max')) write(dir, 'cpu.max', max);
      else warnings.push(missing(`cpu.quota/period "${max}"`, 'cpu.max', why));
    }
    if (c.burst !== undefined) {
      checkInt('cpu.burst', c.burst, 0);
      if (has(dir, 'cpu.max.burst')) write(dir, 'cpu.max.burst', String(c.burst));
      else warnings.push(missing(`cpu.burst ${c.burst}`, 'cpu.max.burst', 'kernel older than 5.14, or the cpu controller is not enabled'));
    }
    if (c.realtimeRuntime || c.realtimePeriod) {
      warnings.push('cgroup v2: cpu.realtimeRuntime/realtimePeriod ignored: cgroup v2 has no real-time group scheduling');
    }
    return warnings;
  },

  stats(dir: string, into: Stats): void {
    const s = readKeyed(dir, 'cpu.stat');
    if (!s) return;
    // v2 counts µs; runc's stats are ns
    into.cpu = {
      usage: { total: (s.usage_usec ?? 0) * 1000, kernel: (s.system_usec ?? 0) * 1000, user: (s.user_usec ?? 0) * 1000 },
      throttling: { periods: s.nr_periods ?? 0, throttledPeriods: s.nr_throttled ?? 0, throttledTime: (s.throttled_usec ?? 0) * 1000 },
    };
  },
};
