/**
 * `docker update` (POST /containers/{id}/update): resource limits and the restart policy of an
 * existing container. The new HostConfig is checked as create checks it (spec/resources.ts);
 * a running container gets the limits through the runtime's update (its cgroups), and the
 * bundle's config.json takes them too, so the next start keeps them.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { Resources } from '../../runtime/spec/types.ts';
import { ConflictError, InvalidParameterError, SystemError } from '../errors.ts';
import { buildResources } from '../spec/resources.ts';
import type { ContainerContext } from './context.ts';
import type { Loaded } from './store.ts';
import { isRunningStatus, type HostConfig, type RestartPolicy } from './types.ts';

/** The fields of docker's UpdateConfig berth applies (container.Resources and RestartPolicy). */
const RESOURCE_FIELDS = [
  'CpuShares', 'Memory', 'NanoCpus', 'CpuPeriod', 'CpuQuota', 'CpusetCpus', 'CpusetMems', 'MemoryReservation', 'MemorySwap', 'PidsLimit',
] as const;

/** Fields docker's UpdateConfig has that berth does not apply: given non-zero, a 400 says so rather than ignoring them. */
const UNSUPPORTED = ['BlkioWeight', 'BlkioWeightDevice', 'BlkioDeviceReadBps', 'BlkioDeviceWriteBps', 'BlkioDeviceReadIOps', 'BlkioDeviceWriteIOps',
  'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'KernelMemory', 'KernelMemoryTCP', 'DeviceRequests', 'Devices', 'DeviceCgroupRules', 'Ulimits', 'CpuCount', 'CpuPercent',
  'IOMaximumIOps', 'IOMaximumBandwidth', 'MemorySwappiness', 'OomKillDisable', 'CgroupParent'] as const;

const isZero = (v: unknown): boolean => v === undefined || v === null || v === 0 || v === '' || (Array.isArray(v) && v.length === 0);

export interface UpdateRequest extends Partial<Pick<HostConfig, (typeof RESOURCE_FIELDS)[number]>> {
  RestartPolicy?: RestartPolicy;
  [k: string]: unknown;
}

/** Only the settings the request changes: the runtime merges them into what the cgroups have. */
function changedResources(before: Resources, after: Resources, req: UpdateRequest): Resources {
  const out: Resources = {};
  const memoryAsked = ['Memory', 'MemorySwap', 'MemoryReservation'].some((k) => req[k] !== undefined);
  if (memoryAsked) {
    out.memory = { ...after.memory };
    // a limit taken away is "unlimited" (-1) for the cgroup, not "leave as is"
    if (before.memory?.limit !== undefined && after.memory?.limit === undefined) out.memory.limit = -1;
    if (before.memory?.swap !== undefined && after.memory?.swap === undefined) out.memory.swap = -1;
  }
  if (['CpuShares', 'NanoCpus', 'CpuPeriod', 'CpuQuota', 'CpusetCpus', 'CpusetMems'].some((k) => req[k] !== undefined)) {
    out.cpu = { ...after.cpu };
    if (before.cpu?.quota !== undefined && after.cpu?.quota === undefined) out.cpu.quota = -1;
  }
  if (req.PidsLimit !== undefined) out.pids = after.pids ?? { limit: -1 };
  return out;
}

async function updateBundle(ctx: ContainerContext, id: string, change: Resources): Promise<void> {
  const file = join(ctx.bundleDir(id), 'config.json');
  const spec = JSON.parse(await readFile(file, 'utf8')) as { linux?: { resources?: Resources } };
  const linux = (spec.linux ??= {});
  const res = (linux.resources ??= {});
  if (change.memory) res.memory = { ...res.memory, ...change.memory };
  if (change.cpu) res.cpu = { ...res.cpu, ...change.cpu };
  if (change.pids) res.pids = change.pids;
  const tmp = `${file}.tmp`;
  await writeFile(tmp, JSON.stringify(spec, null, 2) + '\n');
  await rename(tmp, file);
}

export async function updateContainer(ctx: ContainerContext, l: Loaded, req: UpdateRequest): Promise<{ Warnings: string[] }> {
  const { rec, hostConfig } = l;
  for (const k of UNSUPPORTED) {
    if (!isZero(req[k])) throw new InvalidParameterError(`update: ${k} cannot be updated by berth (supported: ${RESOURCE_FIELDS.join(', ')}, RestartPolicy)`);
  }
  if (rec.state.Status === 'removing' || rec.state.Status === 'dead') throw new ConflictError(`Container ${rec.id} is marked for removal and cannot be "update"`);
  const next: HostConfig = { ...hostConfig };
  for (const k of RESOURCE_FIELDS) {
    const v = req[k];
    // absent or null: unchanged (docker's nil)
    if (v === undefined || v === null) continue;
    if (k === 'CpusetCpus' || k === 'CpusetMems') {
      if (typeof v !== 'string') throw new InvalidParameterError(`${k}: want a string`);
      if (v === '') continue; // docker: empty means unchanged
    } else if (typeof v !== 'number' || !Number.isInteger(v)) throw new InvalidParameterError(`${k}: want an integer`);
    // docker's update leaves a field at 0 alone
    if (v === 0 && k !== 'PidsLimit') continue;
    (next as Record<string, unknown>)[k] = v;
  }
  // --cpus and --cpu-quota/--cpu-period exclude each other: the one given replaces the other
  if (req.NanoCpus) {
    delete next.CpuQuota;
    delete next.CpuPeriod;
  } else if (req.CpuQuota || req.CpuPeriod) delete next.NanoCpus;
  // a new memory limit beyond the swap limit set before is docker's error
  if (req.Memory && !req.MemorySwap && (hostConfig.MemorySwap ?? 0) > 0 && req.Memory > hostConfig.MemorySwap!) {
    throw new InvalidParameterError('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
  }
  const before = buildResources(hostConfig);
  const after = buildResources(next);
  const change = changedResources(before, after, req);
  if (req.RestartPolicy !== undefined && req.RestartPolicy !== null) {
    const p = req.RestartPolicy;
    if (!['', 'no', 'always', 'on-failure', 'unless-stopped'].includes(p.Name ?? '')) throw new InvalidParameterError(`invalid restart policy '${p.Name}'`);
    if (hostConfig.AutoRemove && p.Name && p.Name !== 'no') throw new InvalidParameterError('Restart policy cannot be updated because AutoRemove is enabled for the container');
    if (p.Name !== 'on-failure' && (p.MaximumRetryCount ?? 0) > 0) throw new InvalidParameterError(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
    next.RestartPolicy = { Name: p.Name || 'no', MaximumRetryCount: p.MaximumRetryCount ?? 0 };
  }
  const warnings: string[] = [];
  if (Object.keys(change).length > 0) {
    if (isRunningStatus(rec.state.Status)) {
      try {
        warnings.push(...(await ctx.runtimeOf(rec).update(rec.id, change)));
      } catch (e) {
        throw new SystemError(`Cannot update container ${rec.id}: ${(e as Error).message}`, { cause: e });
      }
    }
    await updateBundle(ctx, rec.id, change);
  }
  l.hostConfig = next;
  await ctx.store.save(rec.id);
  return { Warnings: warnings };
}
