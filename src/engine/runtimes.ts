/**
 * The runtimes a container can run under: berth-oci in berthd's process (the default), or a
 * runc-compatible runtime by its CLI (runc, crun, daemon.json `runtimes`, or an absolute path
 * given as `--runtime`). Both sides speak one interface, EngineRuntime, so the container verbs do
 * not care which one holds a container; start and exec differ in how the process is made (see
 * start.ts and exec.ts), everything after that goes through here.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants as fsc, existsSync, statSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';

import { detectLayout, resolveCgroupsPath } from '../runtime/cgroups/layout.ts';
import { cgroupPids, type CgroupPlacement } from '../runtime/cgroups/placement.ts';
import type { Runtime } from '../runtime/container.ts';
import type { Process, Resources, Spec } from '../runtime/spec/types.ts';
import { NotFoundError as RuntimeNotFound } from '../runtime/state.ts';
import { InvalidParameterError, SystemError } from './errors.ts';

/** The built-in runtime: berth-oci as a library, in berthd's process. */
export const BUILTIN_RUNTIME = 'berth-oci';

/** The runc-compatible runtimes berthd offers without configuration when they are installed. */
const KNOWN = ['runc', 'crun'];

export interface RuntimeConfig {
  path: string;
  runtimeArgs?: string[];
}

/** What the container verbs need of a runtime once a container exists in it. */
export interface EngineRuntime {
  readonly name: string;
  /** a signal to the init; throws an error saying "not running" when it is not */
  kill(id: string, signal: number): Promise<void>;
  /** deletes the container (force: killing what runs); a container the runtime does not know is not an error */
  delete(id: string, force: boolean): Promise<void>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  /** runc update: `change` merged into the cgroups; the warnings */
  update(id: string, change: Resources): Promise<string[]>;
  /** the processes in the container's cgroup */
  pids(id: string): Promise<number[]>;
  /** the container's cgroup directories (OOM counters, stats) */
  cgroup(id: string): Promise<CgroupPlacement>;
  /** the spec the container runs with (exec's base process) */
  spec(id: string): Promise<Spec>;
}

/** berth-oci in-process, as EngineRuntime. */
export class BuiltinRuntime implements EngineRuntime {
  readonly name = BUILTIN_RUNTIME;
  constructor(readonly runtime: Runtime) {}

  async kill(id: string, signal: number): Promise<void> {
    this.runtime.kill(id, signal);
  }

  async delete(id: string, force: boolean): Promise<void> {
    try {
      this.runtime.record(id);
    } catch (e) {
      if (!(e instanceof RuntimeNotFound)) throw e;
      // a create killed between claiming the id (its directory) and writing its state leaves the
      // bare directory: --force removes it, as `berth-oci delete --force` does
      if (force) await this.runtime.delete(id, true);
      return;
    }
    await this.runtime.delete(id, force);
  }

  pause(id: string): Promise<void> {
    return this.runtime.pause(id);
  }

  resume(id: string): Promise<void> {
    return this.runtime.resume(id);
  }

  update(id: string, change: Resources): Promise<string[]> {
    return this.runtime.update(id, change);
  }

  async pids(id: string): Promise<number[]> {
    return this.runtime.pids(id);
  }

  async cgroup(id: string): Promise<CgroupPlacement> {
    return this.runtime.record(id).cgroup;
  }

  async spec(id: string): Promise<Spec> {
    return this.runtime.record(id).spec;
  }
}

export class RuntimeCliError extends Error {}

/**
 * A runc-compatible runtime driven by its command line, with its state under
 * `<exec-root>/runtimes/<name>` (`--root`). berthd never waits on it synchronously.
 */
export class OciCliRuntime implements EngineRuntime {
  constructor(
    readonly name: string,
    readonly config: RuntimeConfig,
    /** the runtime's --root */
    readonly root: string,
    /** the container's bundle directory, by id */
    private readonly bundleOf: (id: string) => string,
  ) {}

  /** The command line up to the verb: path, the configured runtimeArgs, --root. */
  argv(...rest: string[]): string[] {
    return [this.config.path, ...(this.config.runtimeArgs ?? []), '--root', this.root, ...rest];
  }

  /** Runs a verb; resolves with its stdout, rejects with its stderr's last words. */
  run(args: string[], input?: string): Promise<string> {
    const [cmd, ...rest] = this.argv(...args);
    return new Promise((resolve, reject) => {
      const child = execFile(cmd!, rest, { maxBuffer: 16 << 20, timeout: 60_000 }, (e, stdout, stderr) => {
        if (!e) return resolve(stdout);
        const why = runtimeMessage(stderr) || e.message;
        reject(new RuntimeCliError(`${this.name} ${args[0]}: ${why}`));
      });
      if (input !== undefined) child.stdin!.end(input);
    });
  }

  async kill(id: string, signal: number): Promise<void> {
    try {
      await this.run(['kill', id, String(signal)]);
    } catch (e) {
      // the callers tell "not running" apart: runc says "container not running", crun "No such process"
      if (/not running|no such process|does not exist|stopped/i.test((e as Error).message)) throw new RuntimeCliError(`container ${id} is not running`);
      throw e;
    }
  }

  async delete(id: string, force: boolean): Promise<void> {
    if (!existsSync(join(this.root, id))) return;
    await this.run(['delete', ...(force ? ['--force'] : []), id]);
  }

  async pause(id: string): Promise<void> {
    await this.run(['pause', id]);
  }

  async resume(id: string): Promise<void> {
    await this.run(['resume', id]);
  }

  async update(id: string, change: Resources): Promise<string[]> {
    // a file, not stdin: crun reads --resources from a path only
    const file = join(this.root, `${id}.update.json`);
    await writeFile(file, JSON.stringify(change), { mode: 0o600 });
    try {
      await this.run(['update', '--resources', file, id]);
    } finally {
      await rm(file, { force: true });
    }
    return [];
  }

  async pids(id: string): Promise<number[]> {
    return cgroupPids(await this.cgroup(id));
  }

  /** The directories of the spec's cgroupsPath in every hierarchy mounted now (where a cgroupfs runtime puts it). */
  async cgroup(id: string): Promise<CgroupPlacement> {
    const path = resolveCgroupsPath((await this.spec(id)).linux?.cgroupsPath, id);
    const dirs = detectLayout().hierarchies.map((h) => `${h.mountPoint}${path}`).filter((d) => existsSync(d));
    if (dirs.length === 0) throw new RuntimeCliError(`container ${id}: no cgroup at ${path}`);
    return { path, dirs, created: [] };
  }

  async spec(id: string): Promise<Spec> {
    return JSON.parse(await readFile(join(this.bundleOf(id), 'config.json'), 'utf8')) as Spec;
  }

  /** The process file `exec --process` takes, written in `dir`. */
  async processFile(dir: string, proc: Process): Promise<string> {
    const file = join(dir, 'process.json');
    await writeFile(file, JSON.stringify(proc), { mode: 0o600 });
    return file;
  }

  /** `exec --process F ID` in the foreground with its output on pipes berthd reads (healthchecks). */
  execPiped(id: string, processFile: string, pidFile: string): { child: ReturnType<typeof spawn> } {
    const [cmd, ...rest] = this.argv('exec', '--pid-file', pidFile, '--process', processFile, id);
    return { child: spawn(cmd!, rest, { stdio: ['ignore', 'pipe', 'pipe'] }) };
  }
}

/** The message of runc's or crun's failure: the last JSON log line's `msg`, or the last text line. */
export function runtimeMessage(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i]!;
    if (l.startsWith('{')) {
      try {
        const j = JSON.parse(l) as { msg?: string; level?: string };
        if (j.msg && (j.level === undefined || /error|fatal/.test(j.level))) return j.msg;
      } catch { /* not JSON after all */ }
      continue;
    }
    return l.replace(/^(runc|crun): /, '');
  }
  return '';
}

function executable(path: string): boolean {
  try {
    // root passes access(X_OK) for a file with no execute bit at all: the mode says
    accessSync(path, fsc.X_OK);
    const st = statSync(path);
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** A command name looked up in PATH, as execvp would. */
export function lookPath(cmd: string): string | undefined {
  if (cmd.includes('/')) return executable(cmd) ? cmd : undefined;
  const dirs = (process.env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter);
  for (const d of dirs) if (d && executable(join(d, cmd))) return join(d, cmd);
  return undefined;
}

/**
 * The runtimes by name: berth-oci, runc and crun where installed, daemon.json's `runtimes` (which
 * may override runc or crun), and an absolute path to a runc-compatible binary per container.
 */
export class RuntimeRegistry {
  readonly #configured: Record<string, RuntimeConfig>;
  readonly #made = new Map<string, OciCliRuntime>();

  constructor(
    configured: Record<string, RuntimeConfig>,
    readonly defaultName: string,
    private readonly execRoot: string,
    private readonly builtin: BuiltinRuntime,
    private readonly bundleOf: (id: string) => string,
  ) {
    const found: Record<string, RuntimeConfig> = {};
    for (const k of KNOWN) {
      const p = lookPath(k);
      if (p) found[k] = { path: p };
    }
    this.#configured = { ...found, ...configured };
    if (defaultName !== BUILTIN_RUNTIME && !(defaultName in this.#configured)) {
      throw new Error(`default runtime ${JSON.stringify(defaultName)}: not ${BUILTIN_RUNTIME}, nor an installed ${KNOWN.join(' or ')}, nor one of daemon.json's "runtimes"`);
    }
  }

  /** What `docker info` lists: every runtime a container may name, the built-in one first. */
  list(): Record<string, RuntimeConfig> {
    return { [BUILTIN_RUNTIME]: { path: BUILTIN_RUNTIME }, ...this.#configured };
  }

  /** The name a new container records for `asked` (HostConfig.Runtime; empty: the default), or docker's 400. */
  resolve(asked: string | undefined): string {
    const name = asked || this.defaultName;
    if (name === BUILTIN_RUNTIME || name in this.#configured) return name;
    if (isAbsolute(name) && executable(name)) return name;
    throw new InvalidParameterError(`Unknown runtime specified ${name}`);
  }

  /** The runtime holding a container of runtime `name` (a record's). */
  get(name: string): EngineRuntime {
    if (name === BUILTIN_RUNTIME || name === '') return this.builtin;
    return this.cli(name);
  }

  cli(name: string): OciCliRuntime {
    let r = this.#made.get(name);
    if (r) return r;
    const config = this.#configured[name] ?? (isAbsolute(name) ? { path: name } : undefined);
    if (!config) throw new SystemError(`runtime ${JSON.stringify(name)} is no longer configured (daemon.json "runtimes")`);
    // a path as the name: its state directory is named by a digest of it
    const dir = /^[A-Za-z0-9_.-]+$/.test(name) ? name : `path-${createHash('sha256').update(name).digest('hex').slice(0, 16)}`;
    r = new OciCliRuntime(name, config, join(this.execRoot, 'runtimes', dir), this.bundleOf);
    this.#made.set(name, r);
    return r;
  }
}

/** Makes a CLI runtime's --root (0700, as runc's own). */
export async function ensureRoot(r: OciCliRuntime): Promise<void> {
  await mkdir(r.root, { recursive: true, mode: 0o700 });
}
