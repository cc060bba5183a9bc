/**
 * The cgroup v2 controllers, in the order they are applied: `unified` last, so that its raw
 * key/values override what the typed settings wrote. Devices are not among them: v2 enforces
 * them with an eBPF program that berth-init attaches (see devices.ts: `devicesRecords` for the
 * create plan, `applyDevices` for update).
 */
import type { Controller } from '../controller.ts';
import { cpu } from './cpu.ts';
import { cpuset } from './cpuset.ts';
import { hugetlb } from './hugetlb.ts';
import { io } from './io.ts';
import { memory } from './memory.ts';
import { pids } from './pids.ts';
import { unified } from './unified.ts';
import { read, write } from '../files.ts';
import { enabledControllers } from './files.ts';

export const V2_CONTROLLERS: Controller[] = [cpuset, cpu, memory, pids, io, hugetlb, unified];

/**
 * Enables, in each of `dirs` (cgroups berth created, parents first, never the container's own
 * leaf), every controller the dir has available in its subtree_control, so that the container's
 * cgroup below gets them. Returns the controllers that could not be enabled, as warnings. A
 * controller the mount root does not pass down cannot be enabled below it.
 */
export function enableControllers(dirs: string[]): string[] {
  const warnings: string[] = [];
  for (const dir of dirs) {
    const enabled = new Set((read(dir, 'cgroup.subtree_control') ?? '').trim().split(/\s+/).filter(Boolean));
    const want = enabledControllers(dir).filter((c) => !enabled.has(c));
    if (!want.length) continue;
    try {
      write(dir, 'cgroup.subtree_control', want.map((c) => `+${c}`).join(' '));
    } catch {
      // one by one, to enable what can be (cpuset, for one, refuses on some threaded trees)
      for (const c of want) {
        try {
          write(dir, 'cgroup.subtree_control', `+${c}`);
        } catch (e) {
          warnings.push(`cgroup v2: the ${c} controller could not be enabled in ${dir}: ${(e as Error).message}`);
        }
      }
    }
  }
  return warnings;
}

export { cpu, cpuset, hugetlb, io, memory, pids, unified };
