/**
 * Start: the container's init under its own berth-monitor (detached, so it outlives berthd), made
 * by the in-process runtime with the monitor as berth-init's launcher. Attach clients waiting for
 * the start connect before the init execs, so they see its first output.
 */
import { mkdir, rm } from 'node:fs/promises';

import { MonitorClient, monitorCommand } from '../../native/monitor.ts';
import { NotFoundError as RuntimeNotFound } from '../../runtime/state.ts';
import { ConflictError, SystemError } from '../errors.ts';
import type { ContainerContext } from './context.ts';
import { logOptions } from './create.ts';
import type { Loaded } from './store.ts';
import { nowRfc3339 } from './types.ts';

/** Deletes what is left in the runtime of an earlier run of `id` (a daemon that died mid-start). */
export async function deleteRuntimeContainer(ctx: ContainerContext, id: string): Promise<void> {
  try {
    ctx.runtime.record(id);
  } catch (e) {
    if (e instanceof RuntimeNotFound) return;
  }
  await ctx.runtime.delete(id, true);
}

/** Starts `l` (created or exited); returns the monitor's ctl connection. */
export async function startContainer(ctx: ContainerContext, l: Loaded): Promise<MonitorClient> {
  const { rec, hostConfig } = l;
  const id = rec.id;
  if (rec.state.Status === 'removing') throw new ConflictError(`container ${id} is marked for removal and cannot be started`);
  if (rec.state.Status === 'dead') throw new ConflictError(`container ${id} is marked for removal and cannot be started`);
  const c = rec.config;
  const opts = ctx.monitorOptions(id, !!c.Tty, !!c.OpenStdin, !!c.StdinOnce, logOptions(hostConfig));
  await deleteRuntimeContainer(ctx, id);
  await mkdir(ctx.runDir(id), { recursive: true, mode: 0o700 });
  await rm(opts.exitPath, { force: true });
  let client: MonitorClient | undefined;
  try {
    const created = await ctx.runtime.create({
      id, bundle: ctx.bundleDir(id), ...(opts.consoleSocket && { consoleSocket: opts.consoleSocket }), spawnVia: monitorCommand(opts),
    });
    rec.monitorPid = created.session.pid;
    client = await MonitorClient.connect(opts.ctlSocket, opts.exitPath);
    client.sendPid(created.rec.pid);
    created.session.detach();
    const waiting = ctx.pendingAttach.get(id) ?? [];
    ctx.pendingAttach.delete(id);
    await Promise.all(waiting.map((connect) => connect().catch((e: Error) => ctx.log.warn(`attach to ${id}: ${e.message}`))));
    await ctx.runtime.start(id);
    rec.hasBeenStarted = true;
    rec.state = {
      ...rec.state, Status: 'running', Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false,
      Pid: created.rec.pid, ExitCode: 0, Error: '', StartedAt: nowRfc3339(),
    };
    await ctx.store.save(id);
    return client;
  } catch (e) {
    client?.close();
    await deleteRuntimeContainer(ctx, id).catch((d: Error) => ctx.log.warn(`start ${id} failed; deleting its runtime container: ${d.message}`));
    const msg = (e as Error).message;
    rec.state = { ...rec.state, Status: rec.hasBeenStarted ? 'exited' : 'created', Running: false, Pid: 0, Error: msg, ExitCode: 128 };
    await ctx.store.save(id).catch(() => undefined);
    await rm(ctx.runDir(id), { recursive: true, force: true }).catch(() => undefined);
    throw new SystemError(`failed to create task for container: ${msg}`, { cause: e });
  }
}
