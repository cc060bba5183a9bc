/** v1 cpuset controller: cpuset.cpus and cpuset.mems (an empty string leaves the value as it is). */
import type { Controller } from '../controller.ts';
import type { Resources } from '../../spec/types.ts';
import { write } from '../files.ts';

function apply(dir: string, res: Resources): string[] {
  const c = res.cpu;
  if (!c) return [];
  if (c.cpus) write(dir, 'cpuset.cpus', c.cpus);
  if (c.mems) write(dir, 'cpuset.mems', c.mems);
  return [];
}

export const cpuset: Controller = { name: 'cpuset', apply };
