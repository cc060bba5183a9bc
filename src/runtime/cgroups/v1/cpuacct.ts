/** v1 cpuacct controller: CPU usage statistics only (it has no limits). */
import type { Controller, Stats } from '../controller.ts';
import { read, readKeyed } from '../files.ts';
import { readNumber } from './files.ts';

/** USER_HZ: cpuacct.stat counts in these ticks (100 on every Linux architecture berth runs on). */
const CLOCK_TICKS = 100;
const NS_PER_TICK = 1e9 / CLOCK_TICKS;

function stats(dir: string, into: Stats): void {
  const total = readNumber(dir, 'cpuacct.usage');
  if (total === undefined) return;
  const cpu = (into.cpu ??= { usage: { total: 0, kernel: 0, user: 0 }, throttling: { periods: 0, throttledPeriods: 0, throttledTime: 0 } });
  const times = readKeyed(dir, 'cpuacct.stat') ?? {};
  cpu.usage = {
    total,
    percpu: (read(dir, 'cpuacct.usage_percpu') ?? '').trim().split(/\s+/).filter(Boolean).map(Number),
    kernel: (times.system ?? 0) * NS_PER_TICK,
    user: (times.user ?? 0) * NS_PER_TICK,
  };
}

export const cpuacct: Controller = { name: 'cpuacct', apply: () => [], stats };
