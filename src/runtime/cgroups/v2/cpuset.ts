/** cgroup v2 cpuset: cpus → cpuset.cpus, mems → cpuset.mems. */
import type { Resources } from '../../spec/types.ts';
import type { Controller } from '../controller.ts';
import { has, write } from '../files.ts';
import { missing } from './files.ts';

const LIST = /^\s*$|^\d+(-\d+)?(,\d+(-\d+)?)*$/;

export const cpuset: Controller = {
  name: 'cpuset',

  apply(dir: string, res: Resources): string[] {
    const c = res.cpu;
    if (!c) return [];
    const warnings: string[] = [];
    for (const [key, file] of [['cpus', 'cpuset.cpus'], ['mems', 'cpuset.mems']] as const) {
      const v = c[key];
      if (v === undefined || v === '') continue;
      if (!LIST.test(v)) throw new Error(`cpu.${key}: "${v}" is not a list such as 0-3,6`);
      if (has(dir, file)) write(dir, file, v);
      else warnings.push(missing(`cpu.${key} "${v}"`, file, 'the cpuset controller is not enabled for this cgroup'));
    }
    return warnings;
  },
};
