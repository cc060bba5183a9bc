/**
 * What every container verb shares: the record store, the image stores, the in-process runtime,
 * the daemon's paths, and the live state berthd keeps per container (its monitor connection,
 * attach clients waiting for a start, the waiters of exits and removals, a lock per container).
 */
import { join } from 'node:path';

import type { BerthStores } from '../../image/index.ts';
import type { MonitorClient, MonitorOptions } from '../../native/monitor.ts';
import { Runtime } from '../../runtime/container.ts';
import type { EventBus } from '../events.ts';
import type { ImageEngine } from '../images.ts';
import type { Logger } from '../log.ts';
import { BuiltinRuntime, RuntimeRegistry, type EngineRuntime, type RuntimeConfig } from '../runtimes.ts';
import type { VolumeService } from '../volumes/index.ts';
import type { NetworkPlane, Prepared } from '../netplane/plane.ts';
import type { ContainerStore, Loaded } from './store.ts';

export interface ExitWaiter {
  (exitCode: number): void;
}

/** How a `wait condition=removed` ends: docker's wait body, the removal's error when it failed. */
export interface RemovalWaiter {
  (exitCode: number, error?: string): void;
}

export class ContainerContext {
  /** berth-oci, in-process (containers whose record says so) */
  readonly runtime: Runtime;
  /** every runtime by name (docker info's Runtimes) */
  readonly runtimes: RuntimeRegistry;
  /** the ctl connection of each running container's monitor */
  readonly monitors = new Map<string, MonitorClient>();
  /** attach clients of a created container, connected by start before the init execs */
  readonly pendingAttach = new Map<string, (() => Promise<void>)[]>();
  /** called with the exit code once an exit is recorded (next-exit, not-running, stop) */
  readonly exitWaiters = new Map<string, Set<ExitWaiter>>();
  /** called once the container is gone, or its removal failed (wait condition=removed) */
  readonly removeWaiters = new Map<string, Set<RemovalWaiter>>();
  /** the exit codes of containers removed lately: a `wait condition=removed` arriving just after an --rm container went */
  readonly recentlyRemoved = new Map<string, number>();
  /** sandboxes made at create for the start that follows (a created container's until then) */
  readonly prepared = new Map<string, Prepared>();
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(
    readonly store: ContainerStore,
    readonly stores: BerthStores,
    readonly images: ImageEngine,
    readonly dataRoot: string,
    readonly execRoot: string,
    readonly log: Logger,
    readonly events: EventBus,
    /** the volumes containers take references on (create) and drop (rm) */
    readonly volumes: VolumeService,
    /** bridge networks: endpoints, sandboxes, published ports, DNS names */
    readonly net: NetworkPlane,
    runtimes: Record<string, RuntimeConfig> = {},
    defaultRuntime = 'berth-oci',
  ) {
    this.runtime = new Runtime(join(execRoot, 'runtime'));
    this.runtimes = new RuntimeRegistry(runtimes, defaultRuntime, execRoot, new BuiltinRuntime(this.runtime), (id) => this.bundleDir(id));
  }

  /** the runtime holding a container: berth-oci in-process, or a runc-compatible CLI */
  /** The sandbox made at create for `id`, if any, gone (rm, a start that no longer needs it, the daemon's end). */
  async dropPrepared(id: string): Promise<void> {
    const pre = this.prepared.get(id);
    if (!pre) return;
    this.prepared.delete(id);
    await pre.made.catch(() => undefined);
    await this.net.down({ id, endpoints: [], sandbox: pre.sandbox }).catch((e: Error) => this.log.warn(`container ${id}: ${e.message}`));
  }

  runtimeOf(rec: { runtime: string }): EngineRuntime {
    return this.runtimes.get(rec.runtime);
  }

  /** A container event with docker's attributes: the container's labels, its image and name, then `extra`. */
  emit(l: Loaded, action: string, extra: Record<string, string> = {}): void {
    const { rec } = l;
    this.events.log('container', action, rec.id, { ...(rec.config.Labels ?? {}), image: rec.imageName, name: rec.name.slice(1), ...extra });
  }

  bundleDir(id: string): string {
    return join(this.store.dir(id), 'bundle');
  }

  /** `<exec>/containers/<short id>`: sockets must fit sun_path's 108 bytes (the store keeps short IDs unique) */
  runDir(id: string): string {
    return join(this.execRoot, 'containers', id.slice(0, 12));
  }

  monitorOptions(id: string, tty: boolean, stdin: boolean, stdinOnce: boolean, log: { maxSize?: number; maxFile?: number }): MonitorOptions {
    const dir = this.store.dir(id);
    const run = this.runDir(id);
    return {
      dir,
      logPath: join(dir, `${id}-json.log`),
      ...(log.maxSize !== undefined && { logMaxSize: log.maxSize }),
      ...(log.maxFile !== undefined && { logMaxFile: log.maxFile }),
      ...(tty && { tty: true, consoleSocket: join(run, 'console.sock') }),
      ...(stdin && { stdin: true }),
      ...(stdinOnce && { stdinOnce: true }),
      attachSocket: join(run, 'attach.sock'),
      ctlSocket: join(run, 'ctl.sock'),
      exitPath: join(dir, 'exit.json'),
    };
  }

  /** Runs `f` after every earlier locked operation on `id` has finished. */
  async locked<T>(id: string, f: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(id) ?? Promise.resolve();
    const run = prev.then(f, f);
    const tail = run.catch(() => undefined);
    this.#locks.set(id, tail);
    try {
      return await run;
    } finally {
      if (this.#locks.get(id) === tail) this.#locks.delete(id);
    }
  }

  /** Resolves with the exit code at the container's next recorded exit. */
  nextExit(id: string): Promise<number> {
    return new Promise((resolve) => {
      let set = this.exitWaiters.get(id);
      if (!set) this.exitWaiters.set(id, (set = new Set()));
      set.add(resolve);
    });
  }

  notifyExit(id: string, code: number): void {
    const set = this.exitWaiters.get(id);
    this.exitWaiters.delete(id);
    for (const w of set ?? []) w(code);
  }

  removed(id: string): Promise<{ exitCode: number; error?: string }> {
    return new Promise((resolve) => {
      let set = this.removeWaiters.get(id);
      if (!set) this.removeWaiters.set(id, (set = new Set()));
      set.add((exitCode, error) => resolve({ exitCode, ...(error !== undefined && { error }) }));
    });
  }

  /**
   * docker's SetRemovalError: a removal failed (the container is dead); who waits for the removal
   * learns it now, with the error, instead of waiting for ever (`docker run --rm` reports it).
   */
  notifyRemovalFailed(id: string, code: number, error: string): void {
    const set = this.removeWaiters.get(id);
    this.removeWaiters.delete(id);
    for (const w of set ?? []) w(code, error);
  }

  notifyRemoved(id: string, code: number): void {
    this.recentlyRemoved.set(id, code);
    setTimeout(() => this.recentlyRemoved.delete(id), 30_000).unref();
    const set = this.removeWaiters.get(id);
    this.removeWaiters.delete(id);
    for (const w of set ?? []) w(code);
    // nobody waits for the exit of a container that is gone: answer them too
    this.notifyExit(id, code);
  }
}
