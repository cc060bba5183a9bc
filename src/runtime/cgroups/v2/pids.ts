/** cgroup v2 pids: limit → pids.max (negative = max; 0 = not set, as in runc); stats from pids.current. */
import type { Resources } from '../../spec/types.ts';
import type { Controller, Stats } from '../controller.ts';
import { has, write } from '../files.ts';
import { checkInt, missing, readValue, UNLIMITED } from './files.ts';

export const pids: Controller = {
  name: 'pids',

  apply(dir: string, res: Resources): string[] {
    const limit = res.pids?.limit;
    if (limit === undefined || limit === 0) return [];
    checkInt('pids.limit', limit, Number.MIN_SAFE_INTEGER);
    const value = limit < 0 ? 'max' : String(limit);
    if (!has(dir, 'pids.max')) return [missing(`pids.limit ${limit}`, 'pids.max', 'the pids controller is not enabled for this cgroup')];
    write(dir, 'pids.max', value);
    return [];
  },

  stats(dir: string, into: Stats): void {
    const current = readValue(dir, 'pids.current');
    if (current === undefined) return;
    const max = readValue(dir, 'pids.max');
    // runc reports "max" as limit 0
    into.pids = { current, limit: max === undefined || max === UNLIMITED ? 0 : max };
  },
};
