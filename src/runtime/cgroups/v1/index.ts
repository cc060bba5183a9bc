/**
 * The cgroup v1 controllers, in the order runc applies them (cpuset first: a cpuset cgroup
 * refuses tasks until it has cpus and mems; devices early).
 */
import type { Controller } from '../controller.ts';
import { blkio } from './blkio.ts';
import { cpu } from './cpu.ts';
import { cpuacct } from './cpuacct.ts';
import { cpuset } from './cpuset.ts';
import { devices } from './devices.ts';
import { hugetlb } from './hugetlb.ts';
import { memory } from './memory.ts';
import { netCls, netPrio } from './net.ts';
import { pids } from './pids.ts';
import { rdma } from './rdma.ts';

export const V1_CONTROLLERS: Controller[] = [cpuset, devices, memory, cpu, cpuacct, pids, blkio, hugetlb, netCls, netPrio, rdma];

export { blkio, cpu, cpuacct, cpuset, devices, hugetlb, memory, netCls, netPrio, pids, rdma };
