/**
 * v1 cpu controller: cpu.shares, the CFS bandwidth limit (cpu.cfs_period_us, cpu.cfs_quota_us,
 * cpu.cfs_burst_us), the realtime budget (cpu.rt_period_us, cpu.rt_runtime_us), cpu.idle.
 * As in runc, 0 leaves shares, quota and periods unset; quota -1 means no limit.
 */
import type { Controller, Stats } from '../controller.ts';
import type { Resources } from '../../spec/types.ts';
import { has, readKeyed, write, WriteError } from '../files.ts';
import { readNumber } from './files.ts';

function apply(dir: string, res: Resources): string[] {
  const c = res.cpu;
  if (!c) return [];
  const warnings: string[] = [];
  // realtime first: a task already running SCHED_RR cannot join a group without an RT budget
  if (c.realtimePeriod || c.realtimeRuntime !== undefined) {
    if (!has(dir, 'cpu.rt_runtime_us')) {
      if (c.realtimePeriod || c.realtimeRuntime) warnings.push('cpu.realtimePeriod/realtimeRuntime: this kernel has no cpu.rt_* files (built without CONFIG_RT_GROUP_SCHED); ignored');
    } else {
      if (c.realtimePeriod) write(dir, 'cpu.rt_period_us', c.realtimePeriod);
      // 0 is a real budget (no realtime time at all)
      if (c.realtimeRuntime !== undefined) write(dir, 'cpu.rt_runtime_us', c.realtimeRuntime);
    }
  }
  if (c.shares) {
    write(dir, 'cpu.shares', c.shares);
    // the kernel clamps to [2, 262144] without an error: say so
    const got = readNumber(dir, 'cpu.shares');
    if (got !== undefined && got !== c.shares) warnings.push(`cpu.shares ${c.shares}: the kernel clamped it to ${got} (the range is 2-262144)`);
  }
  let periodPending = false;
  if (c.period) {
    try {
      write(dir, 'cpu.cfs_period_us', c.period);
    } catch (e) {
      // a shorter period can exceed the parent's bandwidth with the old quota: retry after the quota
      if (!(e instanceof WriteError) || e.errno !== 'EINVAL' || !c.quota) throw e;
      periodPending = true;
    }
  }
  if (c.quota) {
    write(dir, 'cpu.cfs_quota_us', c.quota);
    if (periodPending) write(dir, 'cpu.cfs_period_us', c.period!);
  }
  if (c.burst !== undefined) {
    if (has(dir, 'cpu.cfs_burst_us')) write(dir, 'cpu.cfs_burst_us', c.burst);
    else warnings.push(`cpu.burst ${c.burst}: this kernel has no cpu.cfs_burst_us (added in Linux 5.14); ignored`);
  }
  if (c.idle !== undefined) {
    if (has(dir, 'cpu.idle')) write(dir, 'cpu.idle', c.idle);
    else if (c.idle !== 0) warnings.push(`cpu.idle ${c.idle}: this kernel has no cpu.idle (added in Linux 5.15); ignored`);
  }
  return warnings;
}

function stats(dir: string, into: Stats): void {
  const s = readKeyed(dir, 'cpu.stat');
  if (!s) return;
  const cpu = (into.cpu ??= { usage: { total: 0, kernel: 0, user: 0 }, throttling: { periods: 0, throttledPeriods: 0, throttledTime: 0 } });
  cpu.throttling = { periods: s.nr_periods ?? 0, throttledPeriods: s.nr_throttled ?? 0, throttledTime: s.throttled_time ?? 0 };
}

export const cpu: Controller = { name: 'cpu', apply, stats };
