/**
 * Start: the container's init under its own berth-monitor (detached, so it outlives berthd), made
 * by the in-process runtime with the monitor as berth-init's launcher. Attach clients waiting for
 * the start connect before the init execs, so they see its first output.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { MonitorClient, monitorCommand, spawnMonitor, type MonitorOptions } from '../../native/monitor.ts';
import { ConflictError, SystemError } from '../errors.ts';
import { OciCliRuntime, ensureRoot, runtimeMessage } from '../runtimes.ts';
import type { ContainerContext } from './context.ts';
import { logOptions } from './create.ts';
import { joinPaths, writeJoins } from './netmodes.ts';
import type { Started } from '../netplane/plane.ts';
import type { Loaded } from './store.ts';
import { PhaseClock } from './timings.ts';
import { nowRfc3339, type ContainerRecord } from './types.ts';

/** Deletes what is left in the runtime of an earlier run of the container (a daemon that died mid-start). */
export async function deleteRuntimeContainer(ctx: ContainerContext, rec: ContainerRecord): Promise<void> {
  await ctx.runtimeOf(rec).delete(rec.id, true);
}

/** How long a runc-compatible runtime's `create` may take before start gives up on it. */
const CLI_CREATE_MS = 60_000;

/**
 * conmon's way with a runc-compatible runtime: the monitor runs `RUNTIME create --pid-file P ID` as
 * its child with the container's stdio (or the console socket it listens on), the runtime's init is
 * reparented to the monitor (its subreaper) when the runtime exits, and the pid file names it.
 * A create that fails ends the monitor (its only child exited): exit.json without a pid file.
 */
async function createViaCli(rt: OciCliRuntime, id: string, bundle: string, opts: MonitorOptions, runDir: string): Promise<{ monitorPid: number; pid: number }> {
  await ensureRoot(rt);
  const pidFile = join(runDir, 'init.pid');
  const logFile = join(runDir, 'runtime.log');
  const argv = rt.argv('--log', logFile, '--log-format', 'json', 'create', '--bundle', bundle, '--pid-file', pidFile,
    ...(opts.consoleSocket ? ['--console-socket', opts.consoleSocket] : []), id);
  const monitorPid = await spawnMonitor(opts, argv);
  const deadline = Date.now() + CLI_CREATE_MS;
  for (let delay = 1; ; delay = Math.min(delay * 2, 20)) {
    const text = await readFile(pidFile, 'utf8').catch(() => '');
    if (/^\d+\s*$/.test(text)) return { monitorPid, pid: Number(text) };
    if (existsSync(opts.exitPath)) {
      const why = runtimeMessage(await readFile(logFile, 'utf8').catch(() => ''));
      throw new SystemError(`${rt.name} create: ${why || 'it failed without saying why'}`);
    }
    if (Date.now() > deadline) {
      try { process.kill(monitorPid, 'SIGKILL'); } catch { /* gone */ }
      throw new SystemError(`${rt.name} create: no pid file after ${CLI_CREATE_MS / 1000} s`);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** What the network plane needs of a container record. */
export function netView(rec: ContainerRecord, hc: Loaded['hostConfig']) {
  return {
    id: rec.id, name: rec.name.slice(1), endpoints: rec.endpoints ?? [], exposed: Object.keys(rec.config.ExposedPorts ?? {}),
    portBindings: hc.PortBindings, publishAll: !!hc.PublishAllPorts,
  };
}

/** Starts `l` (created or exited); returns the monitor's ctl connection. */
export async function startContainer(ctx: ContainerContext, l: Loaded): Promise<MonitorClient> {
  const { rec, hostConfig } = l;
  const id = rec.id;
  if (rec.state.Status === 'removing') throw new ConflictError(`container ${id} is marked for removal and cannot be started`);
  if (rec.state.Status === 'dead') throw new ConflictError(`container ${id} is marked for removal and cannot be started`);
  const clock = new PhaseClock();
  const c = rec.config;
  const opts = ctx.monitorOptions(id, !!c.Tty, !!c.OpenStdin, !!c.StdinOnce, logOptions(hostConfig));
  // docker's errors for a container whose namespaces' owner does not run, before anything is made
  joinPaths(ctx, l);
  // a bridged container's sandbox is made while start does its other preparations, its veths,
  // ports and names while the runtime creates the container
  const pre = ctx.prepared.get(id);
  ctx.prepared.delete(id);
  const net: Started | undefined = ctx.net.up(netView(rec, l.hostConfig), pre);
  if (pre && !net) {
    ctx.prepared.set(id, pre);
    void ctx.dropPrepared(id);
  }
  try {
    await deleteRuntimeContainer(ctx, rec);
    await mkdir(ctx.runDir(id), { recursive: true, mode: 0o700 });
    await rm(opts.exitPath, { force: true });
  } catch (e) {
    if (net) await net.ready.catch(() => undefined).then(() => ctx.net.down({ id, endpoints: rec.endpoints ?? [], sandbox: net.sandbox })).catch(() => undefined);
    throw e;
  }
  clock.mark('prepare');
  let client: MonitorClient | undefined;
  let netTimings: Record<string, number> | undefined;
  try {
    // the namespaces of the containers it joins, as they are now (docker's errors when they are not running)
    await writeJoins(ctx, l, net?.sandbox);
    if (net) {
      await net.made;
      clock.mark('sandbox');
    }
    const rt = ctx.runtimeOf(rec);
    let pid: number;
    if (rt instanceof OciCliRuntime) {
      const made = await createViaCli(rt, id, ctx.bundleDir(id), opts, ctx.runDir(id));
      clock.mark('runtimeCreate');
      rec.monitorPid = made.monitorPid;
      pid = made.pid;
      client = await MonitorClient.connect(opts.ctlSocket, opts.exitPath);
      client.sendPid(pid);
    } else {
      const created = await ctx.runtime.create({
        id, bundle: ctx.bundleDir(id), ...(opts.consoleSocket && { consoleSocket: opts.consoleSocket }), spawnVia: monitorCommand(opts),
      });
      clock.mark('runtimeCreate');
      rec.monitorPid = created.session.pid;
      pid = created.rec.pid;
      client = await MonitorClient.connect(opts.ctlSocket, opts.exitPath);
      client.sendPid(pid);
      created.session.detach();
    }
    clock.mark('monitor');
    const waiting = ctx.pendingAttach.get(id) ?? [];
    ctx.pendingAttach.delete(id);
    await Promise.all(waiting.map((connect) => connect().catch((e: Error) => ctx.log.warn(`attach to ${id}: ${e.message}`))));
    clock.mark('attach');
    if (net) {
      // docker's words for a network failure, without the runtime's "failed to create task"
      const made = await net.ready.catch((e: Error) => { throw Object.assign(new SystemError(e.message, { cause: e }), { network: true }); });
      rec.ports = made.ports;
      rec.sandboxKey = net.sandbox;
      netTimings = made.timings;
      clock.mark('network');
    }
    if (rt instanceof OciCliRuntime) await rt.run(['start', id]);
    else await ctx.runtime.start(id);
    clock.mark('runtimeStart');
    // the runtime deletes its state (trace.log with it) when the container exits: a copy lets a
    // stopped container still explain how it was made
    if (!(rt instanceof OciCliRuntime)) {
      await copyFile(ctx.runtime.store.tracePath(id), join(ctx.store.dir(id), 'trace.log'))
        .catch((e: Error) => ctx.log.warn(`container ${id}: keeping the creation trace: ${e.message}`));
    }
    rec.timings = { ...rec.timings, startAt: clock.at, start: clock.phases, ...(netTimings && { network: netTimings }) };
    if (!netTimings) delete rec.timings.network;
    rec.hasBeenStarted = true;
    rec.state = {
      ...rec.state, Status: 'running', Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false,
      Pid: pid, ExitCode: 0, Error: '', StartedAt: nowRfc3339(),
    };
    await ctx.store.save(id);
    return client;
  } catch (e) {
    client?.close();
    await deleteRuntimeContainer(ctx, rec).catch((d: Error) => ctx.log.warn(`start ${id} failed; deleting its runtime container: ${d.message}`));
    if (net) {
      await net.ready.catch(() => undefined);
      await ctx.net.down({ id, endpoints: rec.endpoints ?? [], sandbox: net.sandbox }).catch((d: Error) => ctx.log.warn(`start ${id} failed; ${d.message}`));
    }
    delete rec.ports;
    delete rec.sandboxKey;
    const msg = (e as Error).message;
    rec.state = { ...rec.state, Status: rec.hasBeenStarted ? 'exited' : 'created', Running: false, Pid: 0, Error: msg, ExitCode: 128 };
    await ctx.store.save(id).catch(() => undefined);
    await rm(ctx.runDir(id), { recursive: true, force: true }).catch(() => undefined);
    if ((e as { network?: boolean }).network) throw e;
    throw new SystemError(`failed to create task for container: ${msg}`, { cause: e });
  }
}
