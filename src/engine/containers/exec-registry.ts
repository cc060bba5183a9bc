/**
 * The exec instances berthd knows (`POST /containers/{id}/exec` makes one, `/exec/{id}/start`
 * runs it once): in memory only, as dockerd keeps them, since an exec'd process does not outlive
 * the daemon's interest in it. An instance goes with its container (looked up lazily: a removed
 * container's instances answer 404), and finished ones are bounded per container.
 */
import { randomBytes } from 'node:crypto';

import type { MonitorClient } from '../../native/monitor.ts';
import { NotFoundError } from '../errors.ts';

/** finished instances kept per container for inspect (dockerd keeps them until the container goes) */
const KEEP_FINISHED = 64;

export interface ExecInstance {
  /** 64 hex digits */
  id: string;
  containerId: string;
  tty: boolean;
  openStdin: boolean;
  openStdout: boolean;
  openStderr: boolean;
  /** as the client gave them ("" = docker's default ctrl-p,ctrl-q) */
  detachKeys: string;
  /** the process's environment, computed at create as dockerd does */
  env: string[];
  cmd: string[];
  privileged: boolean;
  user: string;
  workingDir: string;
  /** set by start: a second start is a conflict */
  started: boolean;
  running: boolean;
  /** null until the process has exited (or its start failed: 126) */
  exitCode: number | null;
  /** the process's host pid while it runs */
  pid: number;
  /** the ctl connection of the process's monitor while it runs */
  monitor?: MonitorClient;
  /** a resize that came before the monitor: sent once it is there */
  pendingSize?: { rows: number; cols: number };
  /** the attached client went: the process is hung up as soon as its monitor is there */
  hungUp?: boolean;
  /** a client is attached (start without Detach) */
  attached?: boolean;
  /** the client detached (the detach keys): the process goes on without it */
  detached?: boolean;
}

export class ExecRegistry {
  readonly #all = new Map<string, ExecInstance>();

  constructor(private readonly containerExists: (id: string) => boolean) {}

  add(init: Omit<ExecInstance, 'id' | 'started' | 'running' | 'exitCode' | 'pid'>): ExecInstance {
    this.#sweep(init.containerId);
    let id: string;
    do id = randomBytes(32).toString('hex');
    while (this.#all.has(id));
    const x: ExecInstance = { ...init, id, started: false, running: false, exitCode: null, pid: 0 };
    this.#all.set(id, x);
    return x;
  }

  /** By full ID, or (as dockerd) an unambiguous prefix; docker's 404 otherwise. */
  get(ref: string): ExecInstance {
    let x = this.#all.get(ref);
    if (!x && ref.length > 0 && /^[0-9a-f]+$/.test(ref)) {
      const hits = [...this.#all.values()].filter((e) => e.id.startsWith(ref));
      if (hits.length === 1) x = hits[0];
    }
    if (x && !x.running && !this.containerExists(x.containerId)) {
      this.#all.delete(x.id);
      x = undefined;
    }
    if (!x) throw new NotFoundError(`No such exec instance: ${ref}`);
    return x;
  }

  /** the instances of one container (inspect's ExecIDs: the running ones) */
  ofContainer(containerId: string): ExecInstance[] {
    return [...this.#all.values()].filter((e) => e.containerId === containerId);
  }

  running(): ExecInstance[] {
    return [...this.#all.values()].filter((e) => e.running);
  }

  /** drops the finished instances of removed containers, and the oldest finished ones of `containerId` past the bound */
  #sweep(containerId: string): void {
    const finished: ExecInstance[] = [];
    for (const x of this.#all.values()) {
      if (x.running) continue;
      if (!this.containerExists(x.containerId)) this.#all.delete(x.id);
      else if (x.containerId === containerId && x.exitCode !== null) finished.push(x);
    }
    for (const x of finished.slice(0, Math.max(0, finished.length - (KEEP_FINISHED - 1)))) this.#all.delete(x.id);
  }
}

/** docker's ExecInspect (types.ContainerExecInspect plus what `GET /exec/{id}/json` shows) */
export function inspectExec(x: ExecInstance): Record<string, unknown> {
  const [entrypoint = '', ...args] = x.cmd;
  return {
    ID: x.id,
    Running: x.running,
    ExitCode: x.exitCode,
    ProcessConfig: {
      tty: x.tty,
      entrypoint,
      arguments: args,
      privileged: x.privileged,
      ...(x.user !== '' && { user: x.user }),
    },
    OpenStdin: x.openStdin,
    OpenStderr: x.openStderr,
    OpenStdout: x.openStdout,
    CanRemove: !x.running && x.exitCode !== null,
    ContainerID: x.containerId,
    DetachKeys: x.detachKeys,
    Pid: x.pid,
  };
}
