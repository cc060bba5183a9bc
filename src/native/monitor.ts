/**
 * The binding to berth-monitor, the native process that holds one container (see
 * native/monitor/main.c): its command line, its control socket and its attach socket.
 *
 * The monitor is started around berth-init: HelperSession spawns `monitorCommand(...)` with
 * berth-init's command line after it (`spawnVia`), so the runtime talks to berth-init as always
 * while the monitor becomes the container's parent. Then the caller sends it the init's pid
 * (`MonitorClient.sendPid`) and lets go of it: it lives on without any Node process.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { PassThrough, type Writable } from 'node:stream';
import { findNativeBinary } from './binary.ts';

export interface MonitorOptions {
  /** the container's directory: the monitor's working directory */
  dir: string;
  /** docker's json-file log, e.g. `<dir>/<id>-json.log`; rotated files get `.1`, `.2`, ... */
  logPath: string;
  /** rotate once the log reaches this many bytes (docker's `max-size`); none by default */
  logMaxSize?: number;
  /** files kept, the current one included (docker's `max-file`, default 1: truncate) */
  logMaxFile?: number;
  /** the container has a terminal: its pty master arrives on `consoleSocket` */
  tty?: boolean;
  consoleSocket?: string;
  /** keep the container's stdin open for attach clients (docker's `-i`) */
  stdin?: boolean;
  /** the first attach client's half-close closes the container's stdin (docker's StdinOnce) */
  stdinOnce?: boolean;
  attachSocket: string;
  ctlSocket: string;
  /** written (tmp + rename) when the init exits */
  exitPath: string;
  /** fds the container inherits besides stdio (the sync fd comes after them), as HelperSession's */
  preserveFds?: number;
}

/** What the monitor records when the container's init exits. */
export interface ExitRecord {
  pid: number;
  status: 'exited' | 'signaled';
  /** the exit code, or 128 + signal */
  exitCode: number;
  /** the signal that killed it, or 0 */
  signal: number;
  /** RFC 3339 with nanoseconds, UTC */
  finishedAt: string;
}

export class MonitorError extends Error {}

/** The monitor's command line up to and including `--`: what follows it is berth-init's. */
export function monitorCommand(opts: MonitorOptions): { command: string; args: string[] } {
  const args = ['--dir', opts.dir, '--log', opts.logPath];
  if (opts.logMaxSize !== undefined) args.push('--log-max-size', String(opts.logMaxSize));
  if (opts.logMaxFile !== undefined) args.push('--log-max-file', String(opts.logMaxFile));
  if (opts.tty) {
    if (!opts.consoleSocket) throw new MonitorError('monitor: tty needs a console socket path');
    args.push('--tty', '--console-sock', opts.consoleSocket);
  }
  if (opts.stdin) args.push('--stdin');
  if (opts.stdinOnce) args.push('--stdin-once');
  args.push('--attach', opts.attachSocket, '--ctl', opts.ctlSocket, '--exit', opts.exitPath);
  args.push('--sync-fd', String(3 + (opts.preserveFds ?? 0)), '--');
  return { command: findNativeBinary('berth-monitor'), args };
}

/**
 * Starts a monitor around any command (no sync fd): detached in its own session and unref'ed, so
 * the caller may exit. Resolves with its pid once its sockets listen (or it has already finished:
 * then exit.json is there).
 */
export async function spawnMonitor(opts: Omit<MonitorOptions, 'preserveFds'>, command: string[]): Promise<number> {
  return (await startMonitor(opts, command, false)).pid;
}

/** The file (in the monitor's directory) where a gated command's exit status is written. */
export const GATED_STATUS_FILE = 'command.status';

/**
 * As spawnMonitor, for a command that starts a process and exits (a runtime's `exec --detach`),
 * run by a shell on the monitor's sync fd: it waits for `go()` (the caller connects to the
 * sockets first, so no output is missed), writes the command's exit status to GATED_STATUS_FILE,
 * and stays the monitor's child until `release()`: a monitor whose children have all exited
 * before it was told the process's pid would take the last one reaped for it and end.
 * `cancel()` makes the shell exit 125 without running the command.
 */
export async function spawnMonitorGated(opts: Omit<MonitorOptions, 'preserveFds'>, command: string[]): Promise<{ pid: number; go(): void; release(): void; cancel(): void }> {
  return startMonitor(opts, command, true);
}

async function startMonitor(opts: Omit<MonitorOptions, 'preserveFds'>, command: string[], gated: boolean): Promise<{ pid: number; go(): void; release(): void; cancel(): void }> {
  const { command: bin, args } = monitorCommand(opts);
  const gate = `read -r _ <&3 || exit 125; "$0" "$@" 3<&-; echo $? > ${GATED_STATUS_FILE}.tmp && mv ${GATED_STATUS_FILE}.tmp ${GATED_STATUS_FILE}; read -r _ <&3; exit 0`;
  const cmd = gated ? ['/bin/sh', '-c', gate, ...command] : command;
  if (!gated) args.splice(args.indexOf('--sync-fd'), 2);
  const stdio: ('ignore' | 'pipe')[] = ['ignore', 'ignore', 'pipe', ...(gated ? ['pipe' as const] : [])];
  const child = spawn(bin, [...args, ...cmd], { stdio, detached: true, argv0: 'berth-monitor' });
  const sync = gated ? (child.stdio[3] as Writable) : undefined;
  sync?.on('error', () => {});
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  await new Promise<void>((resolve, reject) => {
    child.once('error', (e) => reject(new MonitorError(`starting berth-monitor: ${e.message}`)));
    child.once('spawn', resolve);
  });
  // the sockets are made before the command runs; a monitor that exits before making them failed
  for (let delay = 1; !existsSync(opts.ctlSocket) && !existsSync(opts.exitPath); delay = Math.min(delay * 2, 20)) {
    if (child.exitCode !== null || child.signalCode !== null) {
      sync?.destroy();
      throw new MonitorError(stderr.trim() || `berth-monitor exited (${child.exitCode ?? child.signalCode}) before listening`);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
  // from now on its stderr is nobody's: a closed pipe, which it ignores (SIGPIPE is ignored)
  child.stderr!.destroy();
  child.unref();
  return {
    pid: child.pid!,
    go: () => sync?.write('go\n'),
    release: () => sync?.end(),
    cancel: () => sync?.destroy(),
  };
}

/** exit.json, or undefined while there is none. */
export function readExit(path: string): ExitRecord | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as ExitRecord;
  } catch {
    throw new MonitorError(`${path}: not the monitor's exit record (corrupt JSON)`);
  }
}

function connectUnix(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => {
      s.removeListener('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/**
 * A control connection to a monitor. Any number may be open, and one can be made again at any
 * time (after a daemon restart): `exited` settles once the init has exited, from the monitor's
 * `exit` line or, if the monitor is already gone, from exit.json.
 */
export class MonitorClient {
  /** the init's exit; rejects if the monitor died without recording it */
  readonly exited: Promise<ExitRecord>;
  private sock?: Socket;

  private constructor(private readonly exitPath: string, sock: Socket | undefined) {
    this.sock = sock;
    this.exited = new Promise<ExitRecord>((resolve, reject) => {
      /** `said`: the code of the monitor's `exit` line, when it sent one */
      const fromFile = (said?: number) => {
        try {
          const r = readExit(exitPath);
          if (r) resolve(r);
          // a monitor that could not write exit.json (a full disk) still said how the init ended
          else if (said !== undefined) resolve({ pid: 0, status: said > 128 ? 'signaled' : 'exited', exitCode: said, signal: said > 128 ? said - 128 : 0, finishedAt: new Date().toISOString() });
          else reject(new MonitorError(`the monitor exited without recording the container's exit (no ${exitPath})`));
        } catch (e) {
          reject(e as Error);
        }
      };
      if (!sock) return fromFile();
      let buf = '';
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => {
        buf += d;
        // exit.json is renamed into place before the line is sent: the file has the details
        const m = /^exit (-?\d+)\n/m.exec(buf);
        if (m) fromFile(Number(m[1]));
      });
      sock.on('error', () => {});
      sock.on('close', () => fromFile());
    });
    // nobody may be waiting yet; the promise still settles for those who ask later
    this.exited.catch(() => {});
  }

  /** Connects to `ctlSocket`; a monitor that is gone is not an error: `exited` comes from exit.json. */
  static async connect(ctlSocket: string, exitPath: string): Promise<MonitorClient> {
    try {
      return new MonitorClient(exitPath, await connectUnix(ctlSocket));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ECONNREFUSED') return new MonitorClient(exitPath, undefined);
      throw new MonitorError(`connecting to the monitor at ${ctlSocket}: ${(e as Error).message}`);
    }
  }

  /** false when the monitor was already gone at connect */
  get connected(): boolean {
    return !!this.sock && !this.sock.destroyed;
  }

  private send(line: string): void {
    if (!this.sock || this.sock.destroyed) throw new MonitorError('the monitor is not running');
    this.sock.write(line + '\n');
  }

  /** which process is the container's init: the monitor exits when it does */
  sendPid(pid: number): void {
    this.send(`pid ${pid}`);
  }

  /** the terminal's size (tty containers) */
  resize(rows: number, cols: number): void {
    this.send(`resize ${rows} ${cols}`);
  }

  /** EOF on the container's stdin */
  closeStdin(): void {
    this.send('close-stdin');
  }

  /** the client is gone: a tty is hung up (SIGHUP to the process's session), a stdin pipe closed */
  hangup(): void {
    this.send('hangup');
  }

  /** let the process exit while this connection is open */
  unref(): void {
    this.sock?.unref();
  }

  close(): void {
    this.sock?.destroy();
  }
}

/**
 * An attach connection: the container's output as it is produced (decoded from docker's stdcopy
 * frames, or raw for a tty, all on stdout) and its stdin. `socket` carries the frames as-is, for a
 * caller that relays them.
 */
export class AttachClient {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  /** the monitor closed the connection (the container exited, or it dropped us) */
  readonly closed: Promise<void>;
  private pending = Buffer.alloc(0);

  private constructor(readonly socket: Socket, private readonly tty: boolean) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('end', () => {
      this.stdout.end();
      this.stderr.end();
    });
  }

  static async connect(attachSocket: string, opts: { tty: boolean }): Promise<AttachClient> {
    try {
      return new AttachClient(await connectUnix(attachSocket), opts.tty);
    } catch (e) {
      throw new MonitorError(`attaching to ${attachSocket}: ${(e as Error).message}`);
    }
  }

  private onData(d: Buffer): void {
    if (this.tty) {
      this.stdout.write(d);
      return;
    }
    let buf = this.pending.length ? Buffer.concat([this.pending, d]) : d;
    while (buf.length >= 8) {
      const len = buf.readUInt32BE(4);
      if (buf.length < 8 + len) break;
      const payload = buf.subarray(8, 8 + len);
      (buf[0] === 2 ? this.stderr : this.stdout).write(payload);
      buf = buf.subarray(8 + len);
    }
    this.pending = Buffer.from(buf);
  }

  /** bytes for the container's stdin (the monitor was started with `stdin`) */
  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** half-close: with `stdinOnce` the container's stdin reaches EOF */
  end(): void {
    this.socket.end();
  }

  close(): void {
    this.socket.destroy();
  }
}
