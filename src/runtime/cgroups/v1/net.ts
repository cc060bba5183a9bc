/** v1 net_cls (net_cls.classid) and net_prio (net_prio.ifpriomap) controllers. */
import type { Controller } from '../controller.ts';
import type { Resources } from '../../spec/types.ts';
import { write } from '../files.ts';

export const netCls: Controller = {
  name: 'net_cls',
  apply(dir: string, res: Resources): string[] {
    const id = res.network?.classID;
    if (id !== undefined) write(dir, 'net_cls.classid', id);
    return [];
  },
};

export const netPrio: Controller = {
  name: 'net_prio',
  apply(dir: string, res: Resources): string[] {
    // one "IFNAME PRIORITY" per write: the kernel parses a single pair at a time
    for (const p of res.network?.priorities ?? []) write(dir, 'net_prio.ifpriomap', `${p.name} ${p.priority}`);
    return [];
  },
};
