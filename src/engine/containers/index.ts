/**
 * The container side of the engine, what the API's container routes call: each verb is a module
 * of its own (create.ts, start.ts, stop.ts …); this facade looks containers up, serialises the
 * verbs of one container, and owns what happens around an exit (the watch on each running
 * container's monitor, the restart policy, --rm).
 */
import { join } from 'node:path';
import type { Duplex } from 'node:stream';

import type { BerthStores } from '../../image/bundle/create.ts';
import type { MonitorClient } from '../../native/monitor.ts';
import type { ContainerBackend, ContainerCounts } from '../engine.ts';
import { InvalidParameterError, NotFoundError, NotModifiedError } from '../errors.ts';
import type { ImageEngine } from '../images.ts';
import type { Logger } from '../log.ts';
import { attachContainer, checkAttachable, type AttachOptions } from './attach.ts';
import { ContainerContext } from './context.ts';
import { createContainer, type CreateRequest } from './create.ts';
import { afterExit, recordExit } from './exit.ts';
import { inspectContainer } from './inspect.ts';
import { killContainer, notRunning } from './kill.ts';
import { listContainers, type ListOptions } from './list.ts';
import { readLogs, type LogEntry, type LogsOptions } from './logs.ts';
import { pauseContainer, unpauseContainer } from './pause.ts';
import { reconcileOne } from './reconcile.ts';
import { removeContainer } from './remove.ts';
import { renameContainer } from './rename.ts';
import { startContainer } from './start.ts';
import { stopContainer } from './stop.ts';
import { ContainerStore, type Loaded } from './store.ts';
import { topContainer } from './top.ts';
import { isRunningStatus } from './types.ts';
import { waitContainer, type WaitCondition } from './wait.ts';

export class Containers implements ContainerBackend {
  #closing = false;

  private constructor(readonly ctx: ContainerContext) {}

  static async open(opts: { dataRoot: string; execRoot: string; stores: BerthStores; images: ImageEngine; log: Logger }): Promise<Containers> {
    const store = await ContainerStore.open(join(opts.dataRoot, 'containers'), (dir, why) => opts.log.warn(`container ${dir}: unreadable record, skipped: ${why}`));
    const c = new Containers(new ContainerContext(store, opts.stores, opts.images, opts.dataRoot, opts.execRoot, opts.log));
    await c.#reconcile();
    return c;
  }

  async #reconcile(): Promise<void> {
    for (const l of this.ctx.store.all()) {
      try {
        const r = await reconcileOne(this.ctx, l);
        if (r.kind === 'live') this.#watch(r.l, r.client);
        else if (r.kind === 'exited') void this.#afterExit(r.l);
        else if (r.kind === 'idle') {
          const p = r.l.hostConfig.RestartPolicy?.Name;
          // docker restarts these at daemon start too (unless stopped by hand)
          if (r.l.rec.hasBeenStarted && !r.l.rec.manuallyStopped && (p === 'always' || p === 'unless-stopped')) void this.#restart(r.l, 0);
        }
      } catch (e) {
        this.ctx.log.error(`reconcile container ${l.rec.id}: ${(e as Error).message}`);
      }
    }
  }

  /** Lets go of every monitor (the containers keep running) and stops restarting anything. */
  close(): void {
    this.#closing = true;
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
    client.close();
    if (this.ctx.monitors.get(id) === client) this.ctx.monitors.delete(id);
    try {
      await this.ctx.locked(id, () => recordExit(this.ctx, l, ex, error));
    } catch (e) {
      this.ctx.log.error(`container ${id} exited; recording it: ${(e as Error).message}`);
    }
    await this.#afterExit(l);
  }

  async #afterExit(l: Loaded): Promise<void> {
    const id = l.rec.id;
    const next = afterExit(l);
    if (next.kind !== 'restart') this.ctx.notifyExit(id, l.rec.state.ExitCode);
    if (next.kind === 'remove') {
      await this.ctx.locked(id, () => removeContainer(this.ctx, l, { force: true, stopAndWait: async () => undefined }))
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
      await this.ctx.locked(rec.id, async () => this.#watch(l, await startContainer(this.ctx, l)));
    } catch (e) {
      this.ctx.log.error(`restarting container ${rec.id}: ${(e as Error).message}`);
      rec.state = { ...rec.state, Status: 'exited', Restarting: false };
      await this.ctx.store.save(rec.id).catch(() => undefined);
    }
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

  create(req: CreateRequest): Promise<{ Id: string; Warnings: string[] }> {
    return createContainer(this.ctx, req);
  }

  async start(ref: string): Promise<void> {
    const l = this.get(ref);
    try {
      await this.ctx.locked(l.rec.id, async () => {
        if (isRunningStatus(l.rec.state.Status)) throw new NotModifiedError('Container already started');
        l.rec.manuallyStopped = false;
        this.#watch(l, await startContainer(this.ctx, l));
      });
    } catch (e) {
      // dockerd removes an --rm container whose start failed
      if (!(e instanceof NotModifiedError) && l.hostConfig.AutoRemove) {
        await this.ctx.locked(l.rec.id, () => removeContainer(this.ctx, l, { force: true, stopAndWait: async () => undefined }))
          .catch((r: Error) => this.ctx.log.warn(`auto-remove of ${l.rec.id} after a failed start: ${r.message}`));
      }
      throw e;
    }
  }

  async stop(ref: string, timeoutS?: number): Promise<void> {
    await stopContainer(this.ctx, this.get(ref), timeoutS);
  }

  async restart(ref: string, timeoutS?: number): Promise<void> {
    const l = this.get(ref);
    if (isRunningStatus(l.rec.state.Status)) await stopContainer(this.ctx, l, timeoutS);
    await this.start(l.rec.id);
  }

  async kill(ref: string, signal: number): Promise<void> {
    const l = this.get(ref);
    const exited = signal === 9 && isRunningStatus(l.rec.state.Status) ? this.ctx.nextExit(l.rec.id) : undefined;
    killContainer(this.ctx, l, signal);
    // docker waits for a SIGKILLed container to be gone
    if (exited) await exited;
  }

  async remove(ref: string, opts: { force: boolean; volumes: boolean }): Promise<void> {
    const l = this.get(ref);
    const stopAndWait = async (x: Loaded): Promise<void> => {
      const exited = this.ctx.nextExit(x.rec.id);
      x.rec.manuallyStopped = true;
      if (x.rec.state.Paused) {
        try { await this.ctx.runtime.resume(x.rec.id); } catch { /* thawed already */ }
      }
      try { this.ctx.runtime.kill(x.rec.id, 9); } catch { /* exiting */ }
      await exited;
    };
    if (isRunningStatus(l.rec.state.Status) && opts.force) await stopAndWait(l);
    await this.ctx.locked(l.rec.id, () => removeContainer(this.ctx, l, { force: opts.force, stopAndWait }));
  }

  async wait(ref: string, condition: WaitCondition): Promise<number> {
    const l = this.ctx.store.find(ref);
    if (!l) {
      const code = this.ctx.recentlyRemoved.get(ref);
      if (condition !== 'not-running' && code !== undefined) return code;
      throw new NotFoundError(`No such container: ${ref}`);
    }
    return waitContainer(this.ctx, l, condition);
  }

  inspect(ref: string): Record<string, unknown> {
    return inspectContainer(this.ctx, this.get(ref));
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
    return attachContainer(this.ctx, this.get(id), client, o);
  }

  resize(ref: string, rows: number, cols: number): void {
    const l = this.get(ref);
    const m = this.ctx.monitors.get(l.rec.id);
    if (!m || !isRunningStatus(l.rec.state.Status)) throw notRunning(l.rec.id);
    if (!l.rec.config.Tty) return;
    m.resize(rows, cols);
  }

  rename(ref: string, name: string): Promise<void> {
    const l = this.get(ref);
    return this.ctx.locked(l.rec.id, () => renameContainer(this.ctx, l, name));
  }

  pause(ref: string): Promise<void> {
    const l = this.get(ref);
    return this.ctx.locked(l.rec.id, () => pauseContainer(this.ctx, l));
  }

  unpause(ref: string): Promise<void> {
    const l = this.get(ref);
    return this.ctx.locked(l.rec.id, () => unpauseContainer(this.ctx, l));
  }

  top(ref: string, psArgs: string): Promise<{ Titles: string[]; Processes: string[][] }> {
    return topContainer(this.ctx, this.get(ref), psArgs);
  }

  /** `POST /containers/prune`: every container that is not running (label filters). */
  async prune(filters: Record<string, string[]>): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    for (const [k] of Object.entries(filters)) if (k !== 'label' && k !== 'until') throw new InvalidParameterError(`invalid filter '${k}'`);
    for (const l of this.ctx.store.all()) {
      if (isRunningStatus(l.rec.state.Status) || l.rec.creating || l.rec.state.Status === 'removing') continue;
      const labels = l.rec.config.Labels ?? {};
      if ((filters.label ?? []).some((v) => (v.includes('=') ? labels[v.split('=')[0]!] !== v.slice(v.indexOf('=') + 1) : !(v in labels)))) continue;
      if ((filters.until ?? []).some((u) => Date.parse(l.rec.created) >= (/^\d+$/.test(u) ? Number(u) * 1000 : Date.parse(u)))) continue;
      try {
        await this.ctx.locked(l.rec.id, () => removeContainer(this.ctx, l, { force: false, stopAndWait: async () => undefined }));
        deleted.push(l.rec.id);
      } catch (e) {
        this.ctx.log.warn(`prune: ${l.rec.id}: ${(e as Error).message}`);
      }
    }
    return { ContainersDeleted: deleted, SpaceReclaimed: 0 };
  }
}
