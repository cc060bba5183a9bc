/**
 * Where the berth CLI finds berthd, and starting it when nothing answers.
 *
 * The host: `-H/--host unix://PATH`, else BERTH_HOST, else DOCKER_HOST; else, with `--root R`,
 * `unix://R/run/berth.sock` (a private daemon per root, as the tests use); else the default
 * socket /run/berth/berth.sock. Only the last two are autostarted: a host named explicitly is
 * someone else's daemon to run.
 *
 * Autostart: `berthd --data-root R --exec-root R/run -H unix://R/run/berth.sock` (or the defaults)
 * detached in its own session, stdio to `EXEC/berthd.log`; berth waits for `/_ping` and says once
 * on stderr `berth: started berthd (pid N) on unix://…`. Two berths starting one at once: berthd
 * takes a pid file with O_EXCL, so one daemon wins and the other exits; the loser's berth sees
 * its child gone and waits for the winner's socket instead.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Client, ConnectError } from './client.ts';

export const DEFAULT_SOCKET = '/run/berth/berth.sock';
export const DEFAULT_DATA_ROOT = '/var/lib/berth';
export const DEFAULT_EXEC_ROOT = '/run/berth';

/** How long a started daemon may take to answer /_ping. */
const START_TIMEOUT_MS = 30_000;

export interface DaemonTarget {
  socketPath: string;
  /** set when berth may start the daemon itself */
  autostart?: { dataRoot: string; execRoot: string; insecureRegistries: readonly string[] };
}

export class HostError extends Error {}

/** `unix:///path` (or a bare absolute path) → the path; other schemes are refused. */
export function socketOfHost(host: string): string {
  if (host.startsWith('unix://')) {
    const p = host.slice('unix://'.length);
    if (!p.startsWith('/')) throw new HostError(`host ${JSON.stringify(host)}: want unix:///ABSOLUTE/PATH`);
    return p;
  }
  if (host.startsWith('/')) return host;
  throw new HostError(`host ${JSON.stringify(host)}: berth speaks to berthd over a unix socket only (unix:///PATH)`);
}

export function daemonTarget(opts: { host?: string; root?: string; insecureRegistries: readonly string[] }, env: NodeJS.ProcessEnv = process.env): DaemonTarget {
  const host = opts.host ?? (env.BERTH_HOST || undefined) ?? (env.DOCKER_HOST || undefined);
  if (host !== undefined) return { socketPath: socketOfHost(host) };
  if (opts.root !== undefined) {
    const root = resolve(opts.root);
    const execRoot = join(root, 'run');
    return { socketPath: join(execRoot, 'berth.sock'), autostart: { dataRoot: root, execRoot, insecureRegistries: opts.insecureRegistries } };
  }
  return { socketPath: DEFAULT_SOCKET, autostart: { dataRoot: DEFAULT_DATA_ROOT, execRoot: DEFAULT_EXEC_ROOT, insecureRegistries: opts.insecureRegistries } };
}

/** berthd's entry next to this CLI: dist/berthd.js from the bundle, src/cli/berthd.ts from the sources. */
function berthdArgv(): string[] {
  const self = process.argv[1] ?? '';
  if (self.endsWith('.ts')) {
    const src = fileURLToPath(new URL('../berthd.ts', import.meta.url));
    return [process.execPath, ...process.execArgv, src];
  }
  return [process.execPath, join(dirname(self), 'berthd.js')];
}

function tail(file: string, lines = 10): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A client of the daemon at `target`, started first when nothing answers and berth may start
 * it. `say` gets the one line berth prints when it started one.
 */
export async function connectDaemon(target: DaemonTarget, say: (line: string) => void): Promise<Client> {
  const client = new Client(target.socketPath);
  try {
    await client.ping();
    return client;
  } catch (e) {
    if (!(e instanceof ConnectError) || !target.autostart || (e.code !== 'ENOENT' && e.code !== 'ECONNREFUSED')) throw e;
  }
  const a = target.autostart;
  mkdirSync(a.execRoot, { recursive: true, mode: 0o700 });
  const logFile = join(a.execRoot, 'berthd.log');
  const fd = openSync(logFile, 'a', 0o600);
  const [cmd, ...args] = berthdArgv();
  const child = spawn(cmd!, [
    ...args, '--data-root', a.dataRoot, '--exec-root', a.execRoot, '-H', `unix://${target.socketPath}`,
    ...a.insecureRegistries.flatMap((r) => ['--insecure-registry', r]),
  ], { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited: number | null | undefined;
  child.once('exit', (code, signal) => (exited = code ?? (signal ? -1 : null)));
  child.once('error', () => (exited = -1));
  child.unref();
  const deadline = Date.now() + START_TIMEOUT_MS;
  const pidFile = join(a.execRoot, 'berthd.pid');
  for (;;) {
    try {
      await client.ping();
      // ours answered, or another berth's daemon won the race (ours then exits, refused)
      const owner = existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() : '';
      if (owner === String(child.pid)) say(`berth: started berthd (pid ${child.pid}) on unix://${target.socketPath}`);
      return client;
    } catch (e) {
      if (!(e instanceof ConnectError)) throw e;
    }
    if (exited !== undefined) {
      // ours died: fine if another daemon holds the root (a concurrent berth started it) and is coming up
      // (an empty pid file: the winner made it and is writing its pid)
      const present = existsSync(pidFile);
      const owner = Number(present ? readFileSync(pidFile, 'utf8').trim() : '');
      const other = present && owner !== child.pid && (owner === 0 || alive(owner));
      if (!other || Date.now() > deadline) {
        throw new Error(`berthd exited (${exited === -1 ? 'failed to start' : `status ${exited}`}) before answering on unix://${target.socketPath}; the end of ${logFile}:\n${tail(logFile)}`);
      }
    }
    if (Date.now() > deadline) {
      throw new Error(`berthd (pid ${child.pid}) did not answer on unix://${target.socketPath} within ${START_TIMEOUT_MS / 1000}s; the end of ${logFile}:\n${tail(logFile)}`);
    }
    await sleep(exited === undefined ? 20 : 50);
  }
}
