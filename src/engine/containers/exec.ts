/**
 * docker exec: a process started in a running container by the in-process runtime, under a
 * berth-monitor of its own (the container's monitor, in native/monitor, with its log sent to
 * /dev/null: docker keeps no log of exec output). The monitor holds the process's stdio (pipes,
 * or the pty master whose console socket it listens on) and records its exit status; berthd
 * relays its attach socket onto the client's hijacked connection, as for attach. Nothing of it
 * blocks the event loop, and nothing outlives the container: the process is in its cgroup and
 * namespaces.
 *
 * The client connects to the monitor's sockets before berth-init gets its plan, so no output of
 * the process is missed; a client that goes before the process has exited hangs it up (a tty
 * sees SIGHUP, a stdin pipe its EOF).
 */
import { isAbsolute, join } from 'node:path';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import type { Duplex } from 'node:stream';

import { AttachClient, MonitorClient, monitorCommand, spawnMonitorGated, GATED_STATUS_FILE, type MonitorOptions } from '../../native/monitor.ts';
import type { Process } from '../../runtime/spec/types.ts';
import { ConflictError, InvalidParameterError, SystemError } from '../errors.ts';
import { OciCliRuntime, runtimeMessage } from '../runtimes.ts';
import { DEFAULT_PATH_ENV } from '../spec/defaults.ts';
import { replaceOrAppend } from '../spec/create.ts';
import { availableCapabilities } from '../spec/security.ts';
import { resolveUser } from '../spec/user.ts';
import type { ContainerContext } from './context.ts';
import { ExecRegistry, inspectExec, type ExecInstance } from './exec-registry.ts';
import { DetachScanner, parseDetachKeys } from './detach-keys.ts';
import type { Loaded } from './store.ts';

export { parseDetachKeys };

/** docker's ExecConfig (the body of `POST /containers/{id}/exec`) */
export interface ExecCreateRequest {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  DetachKeys?: string;
  Tty?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Privileged?: boolean;
  User?: string;
  WorkingDir?: string;
}

export interface ExecClient {
  socket: Duplex;
  /** frames a chunk of `stream` for the client (stdcopy, or as-is for a TTY) */
  frame: (stream: 1 | 2, data: Buffer) => Buffer;
}

/** How long a monitor may take to listen (it does so before berth-init runs). */
const MONITOR_LISTEN_MS = 10_000;

/** docker's getActiveContainer: the exec verbs need a running, unpaused container. */
function checkActive(l: Loaded): void {
  const { rec } = l;
  const s = rec.state.Status;
  if (s === 'paused') throw new ConflictError(`Container ${rec.id} is paused, unpause the container before exec`);
  if (s === 'restarting') throw new ConflictError(`Container ${rec.id} is restarting, wait until the container is running`);
  if (s !== 'running') throw new ConflictError(`Container ${rec.id} is not running`);
}

export class Execs {
  readonly registry: ExecRegistry;

  constructor(private readonly ctx: ContainerContext) {
    this.registry = new ExecRegistry((id) => ctx.store.find(id)?.rec.id === id);
  }

  /** `POST /containers/{id}/exec`: checks and records; nothing runs until start. */
  create(ref: string, req: ExecCreateRequest): { Id: string } {
    const l = this.ctx.store.get(ref);
    const cmd = req.Cmd ?? [];
    if (cmd.length === 0) throw new InvalidParameterError('No exec command specified');
    checkActive(l);
    const wd = req.WorkingDir ?? '';
    if (wd !== '' && !isAbsolute(wd)) throw new InvalidParameterError(`the working directory '${wd}' is invalid, it needs to be an absolute path`);
    parseDetachKeys(req.DetachKeys ?? '');
    const c = l.rec.config;
    const tty = req.Tty === true;
    // dockerd's CreateDaemonEnvironment: PATH, HOSTNAME, TERM with a tty; the container's env; then the exec's
    const base = [`PATH=${DEFAULT_PATH_ENV}`, `HOSTNAME=${c.Hostname || l.rec.id.slice(0, 12)}`, ...(tty ? ['TERM=xterm'] : [])];
    const env = replaceOrAppend(replaceOrAppend(base, c.Env ?? []), req.Env ?? []);
    const x = this.registry.add({
      containerId: l.rec.id, tty, openStdin: req.AttachStdin === true, openStdout: req.AttachStdout === true, openStderr: req.AttachStderr === true,
      detachKeys: req.DetachKeys ?? '', env, cmd: [...cmd], privileged: req.Privileged === true, user: req.User ?? '', workingDir: wd,
    });
    // docker names the command in the action (`exec_create: sh -c ...`), the exec's ID in the attributes
    this.ctx.emit(l, `exec_create: ${x.cmd.join(' ')}`, { execID: x.id });
    return { Id: x.id };
  }

  inspect(ref: string): Record<string, unknown> {
    return inspectExec(this.registry.get(ref));
  }

  /** What start checks before the client's connection is taken over (404, 409 as HTTP answers). */
  checkStartable(ref: string): ExecInstance {
    const x = this.registry.get(ref);
    if (x.running) throw new ConflictError(`Error: Exec command ${x.id} is already running`);
    if (x.started) throw new ConflictError(`Error: Exec command ${x.id} has already run`);
    checkActive(this.ctx.store.get(x.containerId));
    return x;
  }

  /**
   * `POST /exec/{id}/start`. Detached (no client): resolves once the process runs. Attached:
   * relays until the process has exited and its exit code is recorded (the docker CLI inspects
   * the exec as soon as the stream ends), or the client detaches or goes. A failed start is
   * recorded as exit code 126, as dockerd does, and thrown.
   */
  async start(ref: string, client?: ExecClient): Promise<void> {
    const x = this.checkStartable(ref);
    const l = this.ctx.store.get(x.containerId);
    x.started = true;
    const dir = join(this.ctx.execRoot, 'exec', x.id.slice(0, 12));
    const opts: MonitorOptions = {
      dir, logPath: '/dev/null',
      ...(x.tty && { tty: true, consoleSocket: join(dir, 'console.sock') }),
      ...(client && x.openStdin && { stdin: true, stdinOnce: true }),
      attachSocket: join(dir, 'attach.sock'), ctlSocket: join(dir, 'ctl.sock'), exitPath: join(dir, 'exit.json'),
    };
    let attach: AttachClient | undefined;
    let session: { detach(): void } | undefined;
    try {
      const proc = await this.#process(l, x);
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true, mode: 0o700 });
      if (client) {
        x.attached = true;
        client.socket.once('close', () => this.#clientGone(x));
      }
      const connectClients = async (gone: () => boolean): Promise<void> => {
        x.monitor = await connectWhenListening(() => MonitorClient.connect(opts.ctlSocket, opts.exitPath), (m) => m.connected, gone);
        if (client) attach = await connectWhenListening(() => AttachClient.connect(opts.attachSocket, { tty: x.tty }), () => true, gone);
        if (x.pendingSize) x.monitor.resize(x.pendingSize.rows, x.pendingSize.cols);
        if (x.hungUp) x.monitor.hangup();
      };
      const rt = this.ctx.runtimeOf(l.rec);
      const started = rt instanceof OciCliRuntime
        ? await execViaCli(rt, l.rec.id, proc, opts, connectClients)
        : await this.ctx.runtime.exec(l.rec.id, proc, {
          detach: true, spawnVia: monitorCommand(opts), seccomp: !x.privileged,
          ...(opts.consoleSocket && { consoleSocket: opts.consoleSocket }),
          beforePlan: async (s) => {
            await connectClients(() => s.hasExited);
          },
        });
      session = started.session;
      x.monitor!.sendPid(started.pid);
      started.session.detach();
      x.pid = started.pid;
      x.running = true;
      this.ctx.emit(l, `exec_start: ${x.cmd.join(' ')}`, { execID: x.id });
    } catch (e) {
      session?.detach();
      x.monitor?.close();
      x.monitor = undefined;
      attach?.close();
      x.exitCode = 126;
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw new SystemError(`OCI runtime exec failed: ${(e as Error).message}`, { cause: e });
    }
    const monitor = x.monitor!;
    const exited = monitor.exited.then(
      (r) => r.exitCode,
      (e: Error) => {
        this.ctx.log.warn(`exec ${x.id} in ${x.containerId}: ${e.message}`);
        return 137;
      },
    ).then(async (code) => {
      x.exitCode = code;
      this.ctx.emit(l, 'exec_die', { execID: x.id, exitCode: String(code) });
      x.running = false;
      x.monitor = undefined;
      monitor.close();
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    });
    if (!client || !attach) return;
    await this.#relay(x, client, attach, exited);
  }

  async #relay(x: ExecInstance, client: ExecClient, a: AttachClient, exited: Promise<void>): Promise<void> {
    const sock = client.socket;
    const write = (stream: 1 | 2, d: Buffer): void => {
      if (sock.writable) sock.write(client.frame(stream, d));
    };
    if (x.openStdout) a.stdout.on('data', (d: Buffer) => write(1, d));
    else a.stdout.resume();
    if (x.openStderr) a.stderr.on('data', (d: Buffer) => write(2, d));
    else a.stderr.resume();
    if (x.openStdin) {
      const scanner = x.tty ? new DetachScanner(parseDetachKeys(x.detachKeys)) : undefined;
      sock.on('data', (d: Buffer) => {
        if (x.detached) return;
        if (!scanner) return a.write(d);
        const { pass, detach } = scanner.feed(d);
        if (pass.length > 0) a.write(pass);
        if (detach) {
          // docker's detach: the client goes, the process stays
          x.detached = true;
          a.close();
          sock.end();
        }
      });
      sock.on('end', () => {
        if (x.detached) return;
        // a terminal has no EOF to give: its end is a hangup (as containerd closes the console
        // once the stdin pipe of a tty process ends); a pipe just reaches EOF
        if (x.tty) this.#clientGone(x);
        else a.end();
      });
    }
    // paused while the request body was read: flowing again (without stdin, what comes is dropped)
    sock.resume();
    const clientClosed = new Promise<void>((r) => sock.once('close', () => r()));
    await Promise.race([Promise.all([a.closed, exited]), clientClosed]);
    if (!x.detached && !sock.destroyed) sock.end();
    a.close();
  }

  /** the attached client went: a process still running is hung up (its monitor may not be there yet) */
  #clientGone(x: ExecInstance): void {
    if (x.exitCode !== null || x.detached) return;
    x.hungUp = true;
    try {
      x.monitor?.hangup();
    } catch { /* the monitor is gone: so is the process */ }
  }

  /** `POST /exec/{id}/resize`: the pty's size (kept until the process's monitor is there) */
  resize(ref: string, rows: number, cols: number): void {
    const x = this.registry.get(ref);
    if (!x.tty) return;
    if (x.exitCode !== null) throw new ConflictError(`Exec process ${x.id} is not running`);
    x.pendingSize = { rows, cols };
    try {
      x.monitor?.resize(rows, cols);
    } catch { /* exiting */ }
  }

  /**
   * Daemon shutdown: every exec with a client attached is hung up, as its client goes with the
   * daemon (no process is left reading from nobody); detached ones go on with the container.
   */
  close(): void {
    for (const x of this.registry.running()) {
      if (x.attached) this.#clientGone(x);
      x.monitor?.close();
    }
  }

  /** The process as dockerd builds it: the container's process, then the exec's args, env, user, cwd, tty, privileges. */
  async #process(l: Loaded, x: ExecInstance): Promise<Process> {
    const base = (await this.ctx.runtimeOf(l.rec).spec(l.rec.id)).process;
    if (!base) throw new SystemError(`container ${l.rec.id} has no process in its config`);
    const proc: Process = {
      ...structuredClone(base),
      terminal: x.tty,
      args: [...x.cmd],
      env: [...x.env],
      cwd: x.workingDir !== '' ? x.workingDir : base.cwd,
    };
    delete proc.consoleSize;
    if (x.user !== '') proc.user = await resolveUser(join(this.ctx.bundleDir(l.rec.id), 'rootfs'), x.user, (l.hostConfig.GroupAdd ?? []).filter((g) => g !== ''));
    if (x.privileged) {
      const all = availableCapabilities();
      proc.capabilities = { bounding: [...all], effective: [...all], permitted: [...all], inheritable: [...all] };
    }
    return proc;
  }
}

/** How long a runc-compatible runtime's `exec --detach` may take to write its pid file. */
const CLI_EXEC_MS = 60_000;

/**
 * An exec through a runc-compatible runtime, as create goes (start.ts): the monitor runs
 * `RUNTIME exec --detach --pid-file P --process F ID`, held back until berthd is connected to its
 * sockets; the process is reparented to the monitor when the runtime exits, and the pid file names it.
 */
async function execViaCli(rt: OciCliRuntime, id: string, proc: Process, opts: MonitorOptions, connect: (gone: () => boolean) => Promise<void>): Promise<{ pid: number; session: { detach(): void } }> {
  const file = await rt.processFile(opts.dir, proc);
  const pidFile = join(opts.dir, 'exec.pid');
  const logFile = join(opts.dir, 'runtime.log');
  const argv = rt.argv('--log', logFile, '--log-format', 'json', 'exec', '--detach', '--pid-file', pidFile, '--process', file,
    ...(opts.consoleSocket ? ['--console-socket', opts.consoleSocket] : []), id);
  const m = await spawnMonitorGated(opts, argv);
  try {
    await connect(() => existsSync(opts.exitPath));
  } catch (e) {
    m.cancel();
    throw e;
  }
  m.go();
  const statusFile = join(opts.dir, GATED_STATUS_FILE);
  const deadline = Date.now() + CLI_EXEC_MS;
  try {
    for (let delay = 1; ; delay = Math.min(delay * 2, 20)) {
      const status = await readFile(statusFile, 'utf8').catch(() => '');
      if (status !== '') {
        const pid = Number(await readFile(pidFile, 'utf8').catch(() => ''));
        if (status.trim() === '0' && pid > 0) return { pid, session: { detach: () => m.release() } };
        const why = runtimeMessage(await readFile(logFile, 'utf8').catch(() => ''));
        throw new SystemError(`${rt.name} exec: ${why || `it exited ${status.trim()} without saying why`}`);
      }
      if (existsSync(opts.exitPath)) throw new SystemError(`${rt.name} exec: the monitor ended before the runtime did`);
      if (Date.now() > deadline) {
        try { process.kill(m.pid, 'SIGKILL'); } catch { /* gone */ }
        throw new SystemError(`${rt.name} exec: no exit status after ${CLI_EXEC_MS / 1000} s`);
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  } catch (e) {
    m.release();
    throw e;
  }
}

/**
 * Connects to a socket of a monitor that is starting: it listens before it runs berth-init, so
 * this takes a few milliseconds; `gone` says the monitor died first (it reports why on the sync
 * socket, which the runtime reads).
 */
async function connectWhenListening<T>(connect: () => Promise<T>, ok: (t: T) => boolean, gone: () => boolean): Promise<T> {
  const deadline = Date.now() + MONITOR_LISTEN_MS;
  for (let delay = 1; ; delay = Math.min(delay * 2, 20)) {
    try {
      const t = await connect();
      if (ok(t)) return t;
    } catch { /* not listening yet */ }
    if (gone()) throw new SystemError('berth-monitor exited before listening');
    if (Date.now() > deadline) throw new SystemError(`berth-monitor did not listen within ${MONITOR_LISTEN_MS} ms`);
    await new Promise((r) => setTimeout(r, delay));
  }
}
