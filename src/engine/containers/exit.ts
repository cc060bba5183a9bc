/**
 * A container's init exited (the monitor said so, or exit.json says so after a daemon restart):
 * the OOM kill read from the cgroup counters while the cgroup still exists, then the runtime
 * container deleted (cgroups, state), then the record. What follows (restart, --rm) is the
 * caller's decision: `afterExit` says which, by docker's restart-policy rules.
 */
import { rm } from 'node:fs/promises';

import type { ExitRecord } from '../../native/monitor.ts';
import { oomKillCount } from '../../runtime/cgroups/oom.ts';
import type { ContainerContext } from './context.ts';
import { deleteRuntimeContainer } from './start.ts';
import type { Loaded } from './store.ts';
import { nowRfc3339 } from './types.ts';

export async function recordExit(ctx: ContainerContext, l: Loaded, ex: ExitRecord | undefined, error = ''): Promise<void> {
  const { rec } = l;
  const id = rec.id;
  let oom = false;
  try {
    oom = oomKillCount(await ctx.runtimeOf(rec).cgroup(id)) > 0;
  } catch { /* no runtime container left */ }
  await deleteRuntimeContainer(ctx, rec).catch((e: Error) => ctx.log.warn(`container ${id} exited; deleting its runtime container: ${e.message}`));
  // its sandbox, veths, port rules and holds, and DNS names go with the process (the addresses stay until rm)
  if (rec.sandboxKey || (rec.ports ?? []).length > 0) {
    await ctx.net.down({ id, endpoints: rec.endpoints ?? [], ...(rec.sandboxKey && { sandbox: rec.sandboxKey }) }).catch((e: Error) => ctx.log.warn(`container ${id} exited; ${e.message}`));
  }
  delete rec.sandboxKey;
  delete rec.ports;
  rec.state = {
    ...rec.state, Status: 'exited', Running: false, Paused: false, Restarting: false, Pid: 0, OOMKilled: oom,
    // no exit record: the monitor died, and deleting the runtime container above SIGKILLed what ran
    ExitCode: ex?.exitCode ?? 128 + 9, FinishedAt: ex?.finishedAt ?? nowRfc3339(), Error: error,
  };
  delete rec.monitorPid;
  try {
    await ctx.store.save(id);
  } finally {
    // the monitor's sockets are gone with it, saved record or not (a full disk)
    await rm(ctx.runDir(id), { recursive: true, force: true }).catch(() => undefined);
  }
}

export type AfterExit = { kind: 'none' } | { kind: 'remove' } | { kind: 'restart'; delayMs: number };

/** docker's restartmanager: the policy, the stop flag, the retry count; AutoRemove otherwise. */
export function afterExit(l: Loaded): AfterExit {
  const { rec, hostConfig } = l;
  const p = hostConfig.RestartPolicy ?? { Name: 'no', MaximumRetryCount: 0 };
  let restart = false;
  if (!rec.manuallyStopped) {
    if (p.Name === 'always' || p.Name === 'unless-stopped') restart = true;
    else if (p.Name === 'on-failure') restart = rec.state.ExitCode !== 0 && (!p.MaximumRetryCount || rec.restartCount < p.MaximumRetryCount);
  }
  if (restart) return { kind: 'restart', delayMs: Math.min(100 * 2 ** Math.min(rec.restartCount, 10), 60_000) };
  if (hostConfig.AutoRemove) return { kind: 'remove' };
  return { kind: 'none' };
}
