/**
 * Starting berth-init and talking to it. The plan goes down the sync socket; the helper answers
 * with short lines: `pid N`, `hooks` (waiting for createRuntime hooks), `ready`, or
 * `error OP ERRNO MESSAGE`; and, from `seccomp_export`, `seccomp_program HEX` (the compiled filter).
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import type { Duplex } from 'node:stream';
import { Plan } from './plan.ts';
import { RuntimeError } from './errors.ts';
import { findNativeBinary, NativeBinaryMissing } from './binary.ts';
import type { HelperExit, Zygote } from './zygote.ts';

/**
 * The zygote helpers are forked by, once a long-lived process (berthd) has started one; without
 * it (the berth-oci CLI, short-lived and small) each helper is spawned by Node.
 */
let zygote: Zygote | undefined;
export function useZygote(z: Zygote | undefined): void {
  zygote = z;
}

/** The zygote in use, if any and still running. */
export function currentZygote(): Zygote | undefined {
  return zygote?.running ? zygote : undefined;
}

function findHelper(): string {
  try {
    return findNativeBinary('berth-init');
  } catch (e) {
    if (e instanceof NativeBinaryMissing) throw new RuntimeError(e.message);
    throw e;
  }
}

/** How a plan record is named in an error; the runtime passes the trace's explanations. */
export type ExplainStep = (op: string, args: string[]) => string;
const plainStep: ExplainStep = (op, args) => [op, ...args].join(' ');

/** A process that starts berth-init for us: `command args... /path/berth-init SYNCFD` */
export interface SpawnVia {
  command: string;
  args: string[];
}

export interface HelperMessage {
  kind: 'pid' | 'hooks' | 'ready' | 'error' | 'fail' | 'done' | 'forked' | 'seccomp_program';
  fields: string[];
}

export class HelperSession {
  /** Node's child, when Node spawned the helper (not through the zygote). */
  readonly child?: ChildProcess;
  private readonly sock: Duplex;
  private buf = '';
  private queue: HelperMessage[] = [];
  private waiter?: { resolve: (m: HelperMessage) => void; reject: (e: Error) => void };
  private ended = false;
  private exitInfo?: HelperExit;
  private readonly exited: Promise<HelperExit>;
  private setExit!: (x: HelperExit) => void;
  private forkedPid = 0;
  private plan?: Plan;
  private readonly explain: ExplainStep;
  private readonly zygote?: Zygote;

  /**
   * Starts the helper; it waits for its plan, which `sendPlan` gives it (so both can be prepared at once).
   * With `spawnVia` the process started is that command (berth-monitor), detached in its own
   * session with no stdio of ours, and berth-init's command line follows its `args`: it execs
   * berth-init with the same fds, so the session talks to berth-init as usual. With `pipes` the
   * caller reads the process's output from `child.stdout` and `child.stderr`. Through the zygote
   * (no pipes, no preserved fds) the helper's stdio is /dev/null and the daemon's stderr.
   */
  constructor(opts: { preserveFds: number; what: string; spawnVia?: SpawnVia; pipes?: boolean; explain?: ExplainStep }) {
    this.explain = opts.explain ?? plainStep;
    const syncIndex = 3 + opts.preserveFds;
    const via = opts.spawnVia;
    this.exited = new Promise((res) => (this.setExit = (x) => {
      if (this.exitInfo) return;
      this.exitInfo = x;
      res(x);
    }));
    if (zygote?.running && !opts.pipes && opts.preserveFds === 0) {
      this.zygote = zygote;
      const sock = zygote.connect();
      sock.on('close', () => { if (!this.forkedPid) this.setExit({ code: 127, signal: null }); });
      sock.on('error', (e) => this.fail(new RuntimeError(`${opts.what}: starting berth-init through the zygote: ${e.message}`)));
      const launch = via ? new Plan().add('exec', syncIndex, via.command, ...via.args, findHelper(), String(syncIndex)) : new Plan().add('plan');
      sock.write(launch.encode());
      this.sock = sock;
    } else {
      // pipes: the process's stdout and stderr are child.stdout/child.stderr (a daemon's own exec), stdin /dev/null
      const stdio: StdioOptions = via ? ['ignore', 'ignore', 'ignore'] : opts.pipes ? ['ignore', 'pipe', 'pipe'] : ['inherit', 'inherit', 'inherit'];
      for (let fd = 3; fd < syncIndex; fd++) stdio.push(fd);
      stdio.push('pipe');
      const child = via
        ? spawn(via.command, [...via.args, findHelper(), String(syncIndex)], { stdio, detached: true, argv0: 'berth-monitor' })
        : spawn(findHelper(), [String(syncIndex)], { stdio, argv0: 'berth-init' });
      this.child = child;
      child.once('exit', (code, signal) => this.setExit({ code, signal }));
      child.once('error', (e) => {
        this.fail(new RuntimeError(`${opts.what}: starting berth-init: ${e.message}`));
        this.setExit({ code: 127, signal: null });
      });
      this.sock = child.stdio[syncIndex] as Duplex;
      this.sock.on('error', () => this.onEnd(opts.what));
    }
    this.sock.setEncoding('utf8');
    this.sock.on('data', (d: string) => this.onData(d));
    this.sock.on('end', () => this.onEnd(opts.what));
  }

  /** The helper's pid (through the zygote: known once its `forked` line is read, 0 before). */
  get pid(): number {
    return this.child ? this.child.pid ?? 0 : this.forkedPid;
  }

  sendPlan(plan: Plan): void {
    this.plan = plan;
    this.sock.write(plan.encode());
  }

  private onData(d: string): void {
    this.buf += d;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      const [kind, ...fields] = line.split('\t');
      if (kind === 'forked' && this.zygote && !this.forkedPid) {
        this.forkedPid = Number(fields[0]);
        void this.zygote.exitOf(this.forkedPid).then((x) => this.setExit(x));
        continue;
      }
      this.push({ kind: kind as HelperMessage['kind'], fields });
    }
  }

  private push(m: HelperMessage): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(m);
    } else this.queue.push(m);
  }

  private fail(e: Error): void {
    this.ended = true;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.reject(e);
    }
  }

  private onEnd(what: string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      void this.exited.then((x) => w.reject(new RuntimeError(`${what}: berth-init exited (${x.signal ?? x.code}) without reporting why`)));
    }
  }

  /** The next message; an `error` message becomes a thrown RuntimeError. */
  async next(what: string): Promise<HelperMessage> {
    let m = this.queue.shift();
    if (!m) {
      if (this.ended) {
        const x = await this.exited;
        throw new RuntimeError(`${what}: berth-init exited (${x.signal ?? x.code}) without reporting why`);
      }
      m = await new Promise<HelperMessage>((resolve, reject) => (this.waiter = { resolve, reject }));
    }
    if (m.kind === 'fail') {
      // a plan record failed: say which step, with its values, in the trace's words
      const [index, , strerror] = m.fields;
      const rec = this.plan?.records[Number(index)];
      const step = rec ? `${rec.op}: ${this.explain(rec.op, rec.args.map(String))}` : `step ${index}`;
      throw new RuntimeError(`${what}: ${step}: ${strerror}`);
    }
    if (m.kind === 'error') {
      const [op, errno, ...msg] = m.fields;
      void errno;
      throw new RuntimeError(`${what}: ${op}: ${msg.join(' ')}`);
    }
    return m;
  }

  async expect(kind: HelperMessage['kind'], what: string): Promise<HelperMessage> {
    const m = await this.next(what);
    if (m.kind !== kind) throw new RuntimeError(`${what}: expected "${kind}" from berth-init, got "${m.kind}"`);
    return m;
  }

  send(line: string): void {
    this.sock.write(line + '\n');
  }

  /** Stop listening; the helper and the container go on without us. */
  detach(): void {
    this.sock.destroy();
    this.child?.unref();
    if (this.zygote && this.forkedPid) this.zygote.forget(this.forkedPid);
  }

  /** Ends the helper at once: SIGKILL once its pid is known, and the EOF of its sync socket (a
   * helper still waiting for its plan exits at that EOF). */
  abort(): void {
    const pid = this.pid;
    if (pid > 0 && !this.exitInfo) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    this.sock.destroy();
  }

  /** Whether the helper is known to have exited. */
  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  wait(): Promise<HelperExit> {
    return this.exitInfo ? Promise.resolve(this.exitInfo) : this.exited;
  }
}

/** Runs a one-off plan (records ending in `done`: no clone, no exec) through berth-init. */
export async function runOneOffPlan(plan: Plan, what: string, explain?: ExplainStep): Promise<void> {
  const session = new HelperSession({ preserveFds: 0, what, ...(explain && { explain }) });
  session.sendPlan(plan);
  const m = await session.next(what);
  if (m.kind !== 'done') throw new RuntimeError(`${what}: expected "done" from berth-init, got "${m.kind}"`);
  const exit = await session.wait();
  if (exit.code !== 0) throw new RuntimeError(`${what}: berth-init exited with ${exit.signal ?? exit.code} after "done"`);
}
