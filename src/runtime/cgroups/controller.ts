/**
 * One cgroup controller's view of linux.resources (as youki's libcgroups does it): a small file per
 * controller, each able to apply its part of the resources to a cgroup directory and to read its
 * statistics back. v1/ and v2/ hold the implementations; resources.ts picks, for each controller,
 * the hierarchy that has it (this machine is hybrid: most controllers on v1, some on v2).
 */
import type { Resources } from '../spec/types.ts';

/** Statistics in runc's `events --stats` shapes (types.Stats); each controller fills its part. */
export interface Stats {
  cpu?: {
    usage: { total: number; percpu?: number[]; kernel: number; user: number };
    throttling: { periods: number; throttledPeriods: number; throttledTime: number };
  };
  memory?: {
    cache?: number;
    usage: { limit: number; usage: number; max: number; failcnt: number };
    swap?: { limit: number; usage: number; max: number; failcnt: number };
    kernel?: { limit: number; usage: number; max: number; failcnt: number };
    raw?: Record<string, number>;
  };
  pids?: { current: number; limit: number };
  blkio?: Record<string, { major: number; minor: number; op: string; value: number }[]>;
  hugetlb?: Record<string, { usage: number; max: number; failcnt: number }>;
}

export interface Controller {
  /** kernel controller name: memory, cpu, cpuset, pids, blkio|io, hugetlb, devices, net_cls, net_prio, rdma, misc */
  readonly name: string;
  /**
   * Writes the controller's part of `res` into `dir`. Returns warnings for settings this kernel
   * does not honour (never a silent success that did nothing); throws for invalid values.
   */
  apply(dir: string, res: Resources): string[];
  /** Adds this controller's statistics for `dir` to `into`. */
  stats?(dir: string, into: Stats): void;
}
