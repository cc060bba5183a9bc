/**
 * linux.resources from HostConfig's resource fields, with docker 20.10's defaults and checks
 * (daemon/daemon_unix.go adaptContainerSettings, verifyPlatformContainerResources,
 * getMemoryResources, getCPUResources, getPidsLimit). MemorySwap is memory+swap as docker and
 * the OCI spec have it; the runtime converts it for cgroup v2.
 */
import { cpus } from 'node:os';
import type { Resources } from '../../runtime/spec/types.ts';
import { InvalidParameterError } from '../errors.ts';
import type { HostConfig } from './docker-types.ts';

const MIN_MEMORY = 6 * 1024 * 1024;
const MIN_SHARES = 2;
const MAX_SHARES = 262144;

const bad = (msg: string): never => {
  throw new InvalidParameterError(msg);
};

/** Checks the resource fields and returns linux.resources (without devices). */
export function buildResources(hc: HostConfig, ncpu = cpus().length): Resources {
  const memory = hc.Memory ?? 0;
  let swap = hc.MemorySwap ?? 0;
  if (memory > 0 && swap === 0) swap = memory * 2; // docker's default: as much swap as memory
  if (memory !== 0 && memory < MIN_MEMORY) bad('Minimum memory limit allowed is 6MB');
  if (memory > 0 && swap > 0 && swap < memory) bad('Minimum memoryswap limit should be larger than memory limit, see usage');
  if (memory === 0 && swap > 0) bad('You should always set the Memory limit when using Memoryswap limit, see usage');
  const reservation = hc.MemoryReservation ?? 0;
  if (reservation > 0 && reservation < MIN_MEMORY) bad('Minimum memory reservation allowed is 6MB');
  if (memory > 0 && reservation > 0 && memory < reservation) bad('Minimum memory limit can not be less than memory reservation limit, see usage');
  const swappiness = hc.MemorySwappiness;
  if (swappiness !== undefined && swappiness !== null && swappiness !== -1 && (swappiness < 0 || swappiness > 100)) {
    bad(`Invalid value: ${swappiness}, valid memory swappiness range is 0-100`);
  }

  const nano = hc.NanoCpus ?? 0;
  const period = hc.CpuPeriod ?? 0;
  const quota = hc.CpuQuota ?? 0;
  if (nano > 0 && period > 0) bad('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nano > 0 && quota > 0) bad('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (nano < 0 || nano > ncpu * 1e9) bad(`Range of CPUs is from 0.01 to ${ncpu}.00, as there are only ${ncpu} CPUs available`);
  if (period !== 0 && (period < 1000 || period > 1000000)) bad('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  if (quota > 0 && quota < 1000) bad('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  let shares = hc.CpuShares ?? 0;
  if (shares < 0) bad('shares: invalid argument');
  if (shares > 0) shares = Math.min(MAX_SHARES, Math.max(MIN_SHARES, shares));
  const cpuset = hc.CpusetCpus ?? '';
  if (cpuset !== '' && !/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(cpuset)) bad(`Invalid value ${cpuset} for cpuset cpus`);
  if (cpuset !== '') {
    for (const part of cpuset.split(',')) {
      const [a, b] = part.split('-').map(Number) as [number, number | undefined];
      if ((b ?? a) >= ncpu || (b !== undefined && b < a)) bad(`Requested CPUs are not available - requested ${cpuset}, available: 0-${ncpu - 1}`);
    }
  }

  const r: Resources = {};
  const mem: NonNullable<Resources['memory']> = {};
  if (memory > 0) mem.limit = memory;
  if (reservation > 0) mem.reservation = reservation;
  if (swap > 0) mem.swap = swap; // -1 (unlimited) is the runtime's default
  if (swappiness !== undefined && swappiness !== null && swappiness !== -1) mem.swappiness = swappiness;
  if (hc.OomKillDisable !== undefined && hc.OomKillDisable !== null) mem.disableOOMKiller = hc.OomKillDisable;
  if (Object.keys(mem).length > 0) r.memory = mem;

  const cpu: NonNullable<Resources['cpu']> = {};
  if (shares > 0) cpu.shares = shares;
  if (cpuset !== '') cpu.cpus = cpuset;
  if (hc.CpusetMems) cpu.mems = hc.CpusetMems;
  if (nano > 0) {
    cpu.period = 100000;
    cpu.quota = Math.trunc((nano * 100000) / 1e9);
  }
  if (period !== 0) cpu.period = period;
  if (quota !== 0) cpu.quota = quota;
  if (Object.keys(cpu).length > 0) r.cpu = cpu;

  if (hc.PidsLimit !== undefined && hc.PidsLimit !== null && hc.PidsLimit !== 0) {
    r.pids = { limit: hc.PidsLimit > 0 ? hc.PidsLimit : -1 };
  }
  return r;
}
