/**
 * The container side of the engine, what the API's container routes call: each verb is a module
 * of its own (create.ts, start.ts, stop.ts …); this facade looks containers up, serialises the
 * verbs of one container, and owns what happens around an exit (the watch on each running
 * container's monitor, the restart policy, --rm).
 */
import { basename, dirname, join, resolve } from 'node:path';
import type { Duplex, Readable, Writable } from 'node:stream';

import type { BerthStores } from '../../image/index.ts';
import type { MonitorClient } from '../../native/monitor.ts';
import type { ContainerBackend, ContainerCounts } from '../backend.ts';
import { InvalidParameterError, NotFoundError, NotModifiedError } from '../errors.ts';
import type { EventBus } from '../events.ts';
import type { ImageEngine } from '../images.ts';
import type { Logger } from '../log.ts';
import { archivePath, exportContainer, extractToDir, statPath, type ContainerPathStat, type ExtractOptions } from './archive.ts';
import type { VolumeService } from '../volumes/index.ts';
import type { NetworkPlane } from '../netplane/plane.ts';
import { BUILTIN_RUNTIME, type RuntimeConfig } from '../runtimes.ts';
import { attachContainer, checkAttachable, type AttachOptions } from './attach.ts';
import { ContainerContext } from './context.ts';
import { createContainer, type CreateRequest } from './create.ts';
import { containerChanges, type Change } from './changes.ts';
import { commitContainer, type CommitRequest } from './commit.ts';
import { Execs } from './exec.ts';
import { afterExit, recordExit } from './exit.ts';
import { explainContainer, type Explanation } from './explain.ts';
import { HealthMonitors } from './health.ts';
import { inspectContainer } from './inspect.ts';
import { killContainer, notRunning } from './kill.ts';
import { listContainers, type ListOptions } from './list.ts';
import { readLogs, type LogEntry, type LogsOptions } from './logs.ts';
import { pauseContainer, unpauseContainer } from './pause.ts';
import { reconcileOne } from './reconcile.ts';
import { removeContainer } from './remove.ts';
import { renameContainer } from './rename.ts';
import { netView, startContainer } from './start.ts';
import { connectContainer, disconnectContainer } from './connect.ts';
import type { NetworkRecord } from '../networks/types.ts';
import type { EndpointSettingsRequest } from './types.ts';
import { dirSize } from './size.ts';
import { streamStats, type StatsJson } from './stats.ts';
import { stopContainer } from './stop.ts';
import { ContainerStore, type Loaded } from './store.ts';
import { topContainer } from './top.ts';
import { updateContainer, type UpdateRequest } from './update.ts';
import { isRunningStatus } from './types.ts';
import { waitContainer, type WaitCondition } from './wait.ts';

export class Containers implements ContainerBackend {
  #closing = false;
  readonly #health: HealthMonitors;
  /** docker exec: POST /containers/{id}/exec, /exec/{id}/start|resize|json */
  readonly execs: Execs;

  private constructor(readonly ctx: ContainerContext) {
    this.#health = new HealthMonitors(ctx);
    this.execs = new Execs(ctx);
  }

  static async open(opts: { dataRoot: string; execRoot: string; stores: BerthStores; images: ImageEngine; volumes: VolumeService; net: NetworkPlane; log: Logger; events: EventBus; runtimes?: Record<string, RuntimeConfig>; defaultRuntime?: string }): Promise<Containers> {
    const store = await ContainerStore.open(join(opts.dataRoot, 'containers'), (dir, why) => opts.log.warn(`container ${dir}: unreadable record, skipped: ${why}`));
    const c = new Containers(new ContainerContext(store, opts.stores, opts.images, opts.dataRoot, opts.execRoot, opts.log, opts.events, opts.volumes, opts.net, opts.runtimes ?? {}, opts.defaultRuntime ?? BUILTIN_RUNTIME));
    await c.#reconcile();
    // references of containers that are gone (a create killed before its record, a record removed by hand) would block rm and prune forever
    await opts.volumes.reconcile(store.all().map((l) => l.rec.id));
    return c;
  }

  async #reconcile(): Promise<void> {
    for (const l of this.ctx.store.all()) {
      try {
        const r = await reconcileOne(this.ctx, l);
        if (r.kind === 'live') {
          this.#watch(r.l, r.client);
          if (r.l.rec.state.Status === 'running' || r.l.rec.state.Status === 'paused') this.#health.resume(r.l);
        }
        else if (r.kind === 'exited') {
          this.#emitExit(r.l);
          void this.#afterExit(r.l);
        }
        else if (r.kind === 'idle') {
          const p = r.l.hostConfig.RestartPolicy?.Name;
          // docker restarts these at daemon start too (unless stopped by hand)
          if (r.l.rec.hasBeenStarted && !r.l.rec.manuallyStopped && (p === 'always' || p === 'unless-stopped')) void this.#restart(r.l, 0);
        }
      } catch (e) {
        this.ctx.log.error(`reconcile container ${l.rec.id}: ${(e as Error).message}`);
      }
    }
    // the network of the running ones as it was (names, port holds, rules); what nobody owns, gone
    const live = this.ctx.store.all().filter((l) => l.rec.state.Running);
    await this.ctx.net.reconcile(live.map((l) => ({ ...netView(l.rec, l.hostConfig), ...(l.rec.ports && { ports: l.rec.ports }), ...(l.rec.sandboxKey && { sandbox: l.rec.sandboxKey }) })), new Set(this.ctx.store.all().map((l) => l.rec.id)))
      .catch((e: Error) => this.ctx.log.error(`reconcile networks: ${e.message}`));
    // the runtime's own state of containers no record names: a daemon killed between the runtime's
    // create (its state dir, cgroups) and the record that would have named it
    const known = new Set(this.ctx.store.all().map((l) => l.rec.id));
    for (const id of this.ctx.runtime.store.ids()) {
      if (known.has(id)) continue;
      await this.ctx.runtime.delete(id, true)
        .then(() => this.ctx.log.info(`runtime container ${id}: no container record names it; deleted`))
        .catch((e: Error) => this.ctx.log.warn(`runtime container ${id}: no container record names it; deleting: ${e.message}`));
    }
  }

  /** The sandboxes made at create for starts that did not come (the daemon's end): a created container makes another at its start. */
  async dropPrepared(): Promise<void> {
    await Promise.all([...this.ctx.prepared.keys()].map((id) => this.ctx.dropPrepared(id)));
  }

  /** Lets go of every monitor (the containers keep running) and stops restarting anything. */
  close(): void {
    this.#closing = true;
    this.#health.close();
    this.execs.close();
    for (const c of this.ctx.monitors.values()) c.close();
    this.ctx.monitors.clear();
  }

  #watch(l: Loaded, client: MonitorClient): void {
    const id = l.rec.id;
    this.ctx.monitors.set(id, client);
    client.exited.then(
      (ex) => this.#onExit(l, client, ex),
      (e: Error) => this.#onExit(l, client, undefined, e.message),
    );
  }

  async #onExit(l: Loaded, client: MonitorClient, ex: Parameters<typeof recordExit>[2], error = ''): Promise<void> {
    // a connection closed by close() at daemon shutdown is not an exit
    if (this.#closing) return;
    const id = l.rec.id;
    this.#health.stop(id);
    client.close();
    if (this.ctx.monitors.get(id) === client) this.ctx.monitors.delete(id);
    try {
      await this.ctx.locked(id, () => recordExit(this.ctx, l, ex, error));
    } catch (e) {
      this.ctx.log.error(`container ${id} exited; recording it: ${(e as Error).message}`);
    }
    this.#emitExit(l);
    await this.#afterExit(l);
  }

  /** docker's events at an exit: `oom` when the kernel killed it, then `die` with the exit code. */
  #emitExit(l: Loaded): void {
    if (l.rec.state.OOMKilled) this.ctx.emit(l, 'oom');
    this.ctx.emit(l, 'die', { exitCode: String(l.rec.state.ExitCode) });
  }

  async #afterExit(l: Loaded): Promise<void> {
    const id = l.rec.id;
    const next = afterExit(l);
    if (next.kind !== 'restart') this.ctx.notifyExit(id, l.rec.state.ExitCode);
    if (next.kind === 'remove') {
      // docker's AutoRemove removes the anonymous volumes too (RemoveVolume: true)
      await this.ctx.locked(id, () => removeContainer(this.ctx, l, { force: true, volumes: true, stopAndWait: async () => undefined }))
        .catch((e: Error) => this.ctx.log.error(`auto-remove of ${id}: ${e.message}`));
    } else if (next.kind === 'restart') {
      this.ctx.notifyExit(id, l.rec.state.ExitCode);
      await this.#restart(l, next.delayMs);
    }
  }

  async #restart(l: Loaded, delayMs: number): Promise<void> {
    const { rec } = l;
    rec.state = { ...rec.state, Status: 'restarting', Restarting: true };
    await this.ctx.store.save(rec.id).catch(() => undefined);
    await new Promise((r) => setTimeout(r, delayMs).unref());
    if (this.#closing || this.ctx.store.find(rec.id) !== l || rec.state.Status !== 'restarting') return;
    rec.restartCount++;
    try {
      await this.ctx.locked(rec.id, async () => {
        this.#watch(l, await startContainer(this.ctx, l));
        await this.#startHealth(l);
      });
      this.ctx.emit(l, 'start');
    } catch (e) {
      this.ctx.log.error(`restarting container ${rec.id}: ${(e as Error).message}`);
      rec.state = { ...rec.state, Status: 'exited', Restarting: false };
      await this.ctx.store.save(rec.id).catch(() => undefined);
    }
  }

  /** A started container's healthcheck, State.Health `starting` on disk too. */
  async #startHealth(l: Loaded): Promise<void> {
    this.#health.start(l);
    if (l.rec.state.Health) await this.ctx.store.save(l.rec.id).catch(() => undefined);
  }

  /** The container whose bundle `dir` is (the image side asks, for rmi's conflicts). */
  bundleOwner(dir: string): { name: string; state: 'running' | 'stopped' } | undefined {
    const id = basename(dirname(dir));
    const l = this.ctx.store.find(id);
    if (!l || l.rec.id !== id || resolve(this.ctx.bundleDir(id)) !== resolve(dir)) return undefined;
    return { name: `container ${id.slice(0, 12)}`, state: isRunningStatus(l.rec.state.Status) ? 'running' : 'stopped' };
  }

  get(ref: string): Loaded {
    return this.ctx.store.get(ref);
  }

  async counts(): Promise<ContainerCounts> {
    const all = this.ctx.store.all().filter((l) => !l.rec.creating);
    const paused = all.filter((l) => l.rec.state.Status === 'paused').length;
    const running = all.filter((l) => isRunningStatus(l.rec.state.Status)).length - paused;
    return { total: all.length, running, paused, stopped: all.length - running - paused };
  }

  async create(req: CreateRequest): Promise<{ Id: string; Warnings: string[] }> {
    const r = await createContainer(this.ctx, req);
    this.ctx.emit(this.get(r.Id), 'create');
    return r;
  }

  async start(ref: string): Promise<void> {
    const l = this.get(ref);
    try {
      await this.ctx.locked(l.rec.id, async () => {
        if (isRunningStatus(l.rec.state.Status)) throw new NotModifiedError('Container already started');
        l.rec.manuallyStopped = false;
        this.#watch(l, await startContainer(this.ctx, l));
        await this.#startHealth(l);
      });
      this.ctx.emit(l, 'start');
    } catch (e) {
      // dockerd removes an --rm container whose start failed
      if (!(e instanceof NotModifiedError) && l.hostConfig.AutoRemove) {
        await this.ctx.locked(l.rec.id, () => removeContainer(this.ctx, l, { force: true, volumes: true, stopAndWait: async () => undefined }))
          .catch((r: Error) => this.ctx.log.warn(`auto-remove of ${l.rec.id} after a failed start: ${r.message}`));
      }
      throw e;
    }
  }

  async stop(ref: string, timeoutS?: number): Promise<void> {
    const l = this.get(ref);
    await stopContainer(this.ctx, l, timeoutS);
    this.ctx.emit(l, 'stop');
  }

  async restart(ref: string, timeoutS?: number): Promise<void> {
    const l = this.get(ref);
    if (isRunningStatus(l.rec.state.Status)) {
      await stopContainer(this.ctx, l, timeoutS);
      this.ctx.emit(l, 'stop');
    }
    await this.start(l.rec.id);
    this.ctx.emit(l, 'restart');
  }

  async kill(ref: string, signal: number): Promise<void> {
    const l = this.get(ref);
    const exited = signal === 9 && isRunningStatus(l.rec.state.Status) ? this.ctx.nextExit(l.rec.id) : undefined;
    await killContainer(this.ctx, l, signal);
    this.ctx.emit(l, 'kill', { signal: String(signal) });
    // docker waits for a SIGKILLed container to be gone
    if (exited) await exited;
  }

  async remove(ref: string, opts: { force: boolean; volumes: boolean }): Promise<void> {
    const l = this.get(ref);
    const stopAndWait = async (x: Loaded): Promise<void> => {
      const exited = this.ctx.nextExit(x.rec.id);
      x.rec.manuallyStopped = true;
      if (x.rec.state.Paused) {
        try { await this.ctx.runtimeOf(x.rec).resume(x.rec.id); } catch { /* thawed already */ }
      }
      try { await this.ctx.runtimeOf(x.rec).kill(x.rec.id, 9); } catch { /* exiting */ }
      await exited;
    };
    if (isRunningStatus(l.rec.state.Status) && opts.force) await stopAndWait(l);
    await this.ctx.locked(l.rec.id, () => removeContainer(this.ctx, l, { force: opts.force, volumes: opts.volumes, stopAndWait }));
  }

  async wait(ref: string, condition: WaitCondition): Promise<{ exitCode: number; error?: string }> {
    const l = this.ctx.store.find(ref);
    if (!l) {
      const code = this.ctx.recentlyRemoved.get(ref);
      if (condition !== 'not-running' && code !== undefined) return { exitCode: code };
      throw new NotFoundError(`No such container: ${ref}`);
    }
    return waitContainer(this.ctx, l, condition);
  }

  inspect(ref: string): Record<string, unknown> {
    const j = inspectContainer(this.ctx, this.get(ref));
    const execs = this.execs.registry.ofContainer(j.Id as string).filter((x) => x.running).map((x) => x.id);
    return execs.length > 0 ? { ...j, ExecIDs: execs } : j;
  }

  list(o: ListOptions): Record<string, unknown>[] {
    return listContainers(this.ctx, o);
  }

  logs(ref: string, o: LogsOptions, onEntry: (e: LogEntry, tty: boolean) => void, closed: () => boolean): Promise<void> {
    const l = this.get(ref);
    return readLogs(this.ctx, l, o, (e) => onEntry(e, !!l.rec.config.Tty), closed);
  }

  /** Checks that `ref` can be attached to (before the 101); returns whether it has a TTY. */
  attachable(ref: string): { id: string; tty: boolean } {
    const l = this.get(ref);
    checkAttachable(l);
    return { id: l.rec.id, tty: !!l.rec.config.Tty };
  }

  attach(id: string, client: Duplex, o: AttachOptions): Promise<void> {
    const l = this.get(id);
    this.ctx.emit(l, 'attach');
    return attachContainer(this.ctx, l, client, o);
  }

  resize(ref: string, rows: number, cols: number): void {
    const l = this.get(ref);
    const m = this.ctx.monitors.get(l.rec.id);
    if (!m || !isRunningStatus(l.rec.state.Status)) throw notRunning(l.rec.id);
    if (!l.rec.config.Tty) return;
    m.resize(rows, cols);
    this.ctx.emit(l, 'resize', { height: String(rows), width: String(cols) });
  }

  async rename(ref: string, name: string): Promise<void> {
    const l = this.get(ref);
    const oldName = l.rec.name;
    await this.ctx.locked(l.rec.id, () => renameContainer(this.ctx, l, name));
    this.ctx.emit(l, 'rename', { oldName });
  }

  /** docker network connect */
  async connectNetwork(ref: string, net: NetworkRecord, cfg: EndpointSettingsRequest): Promise<void> {
    const l = this.get(ref);
    await this.ctx.locked(l.rec.id, () => connectContainer(this.ctx, l, net, cfg));
  }

  /** docker network disconnect */
  async disconnectNetwork(ref: string, net: NetworkRecord, force: boolean): Promise<void> {
    const l = this.get(ref);
    await this.ctx.locked(l.rec.id, () => disconnectContainer(this.ctx, l, net, force));
  }

  /** The endpoints on network `networkId` of the running containers (network inspect's Containers, rm's check). */
  networkMembers(networkId: string): Array<{ containerId: string; name: string; endpointId: string; macAddress: string; ipv4Address: string; ipv6Address: string }> {
    const out = [];
    for (const l of this.ctx.store.all()) {
      if (!l.rec.state.Running) continue;
      for (const ep of l.rec.endpoints ?? []) {
        if (ep.networkId !== networkId) continue;
        out.push({
          containerId: l.rec.id, name: l.rec.name.slice(1), endpointId: ep.endpointId, macAddress: ep.mac,
          ipv4Address: ep.lease.v4 ? `${ep.lease.v4.address}/${ep.lease.v4.prefix}` : '',
          ipv6Address: ep.lease.v6 ? `${ep.lease.v6.address}/${ep.lease.v6.prefix}` : '',
        });
      }
    }
    return out;
  }

  async pause(ref: string): Promise<void> {
    const l = this.get(ref);
    await this.ctx.locked(l.rec.id, () => pauseContainer(this.ctx, l));
    this.ctx.emit(l, 'pause');
  }

  async unpause(ref: string): Promise<void> {
    const l = this.get(ref);
    await this.ctx.locked(l.rec.id, () => unpauseContainer(this.ctx, l));
    this.ctx.emit(l, 'unpause');
  }

  async top(ref: string, psArgs: string): Promise<{ Titles: string[]; Processes: string[][] }> {
    const l = this.get(ref);
    const r = await topContainer(this.ctx, l, psArgs);
    this.ctx.emit(l, 'top');
    return r;
  }

  /** `GET /containers/{id}/stats`: samples to `send` until `closed()` (or one, without `stream`). */
  stats(ref: string, o: { stream: boolean; oneShot: boolean }, send: (s: StatsJson) => void, closed: () => boolean): Promise<void> {
    return streamStats(this.ctx, this.get(ref), o, send, closed);
  }

  async update(ref: string, req: UpdateRequest): Promise<{ Warnings: string[] }> {
    const l = this.get(ref);
    const r = await this.ctx.locked(l.rec.id, () => updateContainer(this.ctx, l, req));
    this.ctx.emit(l, 'update');
    return r;
  }

  /** Bytes in the container's writable layer (the overlay's upper directory). */
  sizeRw(ref: string): Promise<number> {
    return dirSize(join(this.ctx.bundleDir(this.get(ref).rec.id), '.berth', 'upper'));
  }

  /** `GET /containers/{id}/explain`: how the container was made, read back from the kernel and the trace */
  explain(ref: string): Promise<Explanation> {
    return explainContainer(this.ctx, this.get(ref));
  }

  /** `HEAD /containers/{id}/archive` (docker cp's stat). */
  statPath(ref: string, path: string): ContainerPathStat {
    return statPath(this.ctx, this.get(ref), ref, path);
  }

  /** `GET /containers/{id}/archive`: the stat, and the tar's writer. */
  archive(ref: string, path: string): ReturnType<typeof archivePath> {
    return archivePath(this.ctx, this.get(ref), ref, path);
  }

  /** `PUT /containers/{id}/archive`. */
  extract(ref: string, path: string, body: Readable, o: ExtractOptions): Promise<void> {
    return extractToDir(this.ctx, this.get(ref), ref, path, body, o);
  }

  /** `GET /containers/{id}/export`. */
  export(ref: string, sink: Writable): Promise<void> {
    return exportContainer(this.ctx, this.get(ref), sink);
  }

  /** `GET /containers/{id}/changes`. */
  changes(ref: string): Promise<Change[] | null> {
    return containerChanges(this.ctx, this.get(ref));
  }

  /** `POST /commit`: serialised with the container's other verbs (it may pause it). */
  commit(ref: string, req: CommitRequest): Promise<{ Id: string }> {
    const l = this.get(ref);
    return this.ctx.locked(l.rec.id, () => commitContainer(this.ctx, l, req));
  }

  /** `POST /containers/prune`: every container that is not running (label filters). */
  async prune(filters: Record<string, string[]>): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const [k] of Object.entries(filters)) if (k !== 'label' && k !== 'until') throw new InvalidParameterError(`invalid filter '${k}'`);
    for (const l of this.ctx.store.all()) {
      if (isRunningStatus(l.rec.state.Status) || l.rec.creating || l.rec.state.Status === 'removing') continue;
      const labels = l.rec.config.Labels ?? {};
      if ((filters.label ?? []).some((v) => (v.includes('=') ? labels[v.split('=')[0]!] !== v.slice(v.indexOf('=') + 1) : !(v in labels)))) continue;
      if ((filters.until ?? []).some((u) => Date.parse(l.rec.created) >= (/^\d+$/.test(u) ? Number(u) * 1000 : Date.parse(u)))) continue;
      try {
        const size = await this.sizeRw(l.rec.id);
        await this.ctx.locked(l.rec.id, () => removeContainer(this.ctx, l, { force: false, volumes: false, stopAndWait: async () => undefined }));
        deleted.push(l.rec.id);
        reclaimed += size;
      } catch (e) {
        this.ctx.log.warn(`prune: ${l.rec.id}: ${(e as Error).message}`);
      }
    }
    this.ctx.events.log('container', 'prune', '', { reclaimed: String(reclaimed) });
    return { ContainersDeleted: deleted, SpaceReclaimed: reclaimed };
  }
}
