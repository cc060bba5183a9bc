/**
 * The zygote (native/src/zygote.c): one long-lived berth-init that forks the helpers a daemon
 * needs. Node forks by copying its whole address space's page tables, synchronously, on the
 * event loop (≈10 ms for a 140 MB daemon, three times per container run); the zygote is a few
 * hundred KiB, forks in well under a millisecond, on its own core. A helper is asked for by
 * connecting to its socket; the connection becomes the helper's sync socket.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { unlinkSync } from 'node:fs';
import { constants } from 'node:os';

import { findNativeBinary } from './binary.ts';
import { RuntimeError } from './errors.ts';

export interface HelperExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Signal numbers to names, from the platform's own table. */
const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

/** How long the zygote may take to listen. */
const START_MS = 10_000;

/** How long an exit nobody asked for yet is kept (its helper's `forked` line may still be in flight). */
const UNCLAIMED_MS = 60_000;

export class Zygote {
  private readonly waiters = new Map<number, (x: HelperExit) => void>();
  private readonly unclaimed = new Map<number, { exit: HelperExit; at: number }>();
  private alive = true;
  /** Told when the zygote exits while in use (not after `stop`). */
  onExit?: (why: string) => void;

  private constructor(private readonly child: ChildProcess, readonly socketPath: string) {
    child.once('exit', (code, signal) => {
      this.alive = false;
      this.onExit?.(String(signal ?? code));
      // its children are no longer reaped by it: nobody will report their exits
      for (const [pid, resolve] of this.waiters) resolve({ code: null, signal: null }), this.waiters.delete(pid);
    });
  }

  /** Starts the zygote listening on `socketPath` (made mode 0600; an old socket there is replaced). */
  static start(socketPath: string): Promise<Zygote> {
    const child = spawn(findNativeBinary('berth-init'), ['zygote', socketPath], { stdio: ['pipe', 'pipe', 'inherit'], argv0: 'berth-init' });
    const z = new Zygote(child, socketPath);
    return new Promise((resolve, reject) => {
      let ready = false;
      // an older berth-init takes "zygote" for its sync fd and waits for a plan on stdin
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new RuntimeError(`the berth-init zygote (${child.spawnfile}) did not start listening on ${socketPath} within ${START_MS / 1000} s: is native/build up to date (make -C native)?`));
      }, START_MS);
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        const f = line.split('\t');
        if (f[0] === 'ready' && !ready) {
          ready = true;
          clearTimeout(timer);
          // from now on it never keeps its process alive by itself (a library user that does not
          // close the engine); until now it must, or a daemon awaiting it would just exit
          child.unref();
          (child.stdin as unknown as { unref?: () => void }).unref?.();
          (child.stdout as unknown as { unref?: () => void }).unref?.();
          resolve(z);
        } else if (f[0] === 'exit') z.reaped(Number(f[1]), Number(f[2]), Number(f[3]));
      });
      child.once('error', (e) => clearTimeout(timer) ?? reject(new RuntimeError(`starting the berth-init zygote: ${e.message}`)));
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (!ready) reject(new RuntimeError(`the berth-init zygote exited (${signal ?? code}) before listening on ${socketPath}`));
      });
      // the zygote exits at the EOF of its stdin: when berthd exits, however it exits
      child.stdin!.on('error', () => undefined);

    });
  }

  get running(): boolean {
    return this.alive;
  }

  /** A connection to a new helper, which waits for its launch record. */
  connect(): Socket {
    return connect(this.socketPath);
  }

  /** The exit of helper `pid` (a child of the zygote), once it is reaped. */
  exitOf(pid: number): Promise<HelperExit> {
    const early = this.unclaimed.get(pid);
    if (early) {
      this.unclaimed.delete(pid);
      return Promise.resolve(early.exit);
    }
    if (!this.alive) return Promise.resolve({ code: null, signal: null });
    return new Promise((resolve) => {
      this.waiters.set(pid, resolve);
      this.holdWhileWaited();
    });
  }

  /** Stops waiting for `pid` (a detached helper: a monitor lives on its own). */
  forget(pid: number): void {
    this.waiters.delete(pid);
    this.holdWhileWaited();
  }

  /**
   * An exit someone awaits arrives on the zygote's stdout: while there is one, that pipe keeps
   * this process alive (a daemon finishing a removal before it listens would otherwise just exit);
   * with none, the zygote never does.
   */
  private holdWhileWaited(): void {
    const out = this.child.stdout as unknown as { ref?: () => void; unref?: () => void } | null;
    if (this.waiters.size > 0) out?.ref?.();
    else out?.unref?.();
  }

  private reaped(pid: number, code: number, sig: number): void {
    const exit: HelperExit = sig > 0 ? { code: null, signal: SIGNAL_NAMES.get(sig) ?? 'SIGKILL' } : { code, signal: null };
    const w = this.waiters.get(pid);
    if (w) {
      this.waiters.delete(pid);
      this.holdWhileWaited();
      w(exit);
      return;
    }
    const now = Date.now();
    for (const [p, e] of this.unclaimed) if (now - e.at > UNCLAIMED_MS) this.unclaimed.delete(p);
    this.unclaimed.set(pid, { exit, at: now });
  }

  /** Ends the zygote (its helpers and monitors go on); the socket is removed. */
  stop(): void {
    this.child.stdin?.end();
    try { unlinkSync(this.socketPath); } catch { /* gone already */ }
  }
}
