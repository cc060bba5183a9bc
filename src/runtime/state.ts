/**
 * The state directory of each container: <root>/<id>/ holding state.json (written to a temp
 * file, then renamed, so a crash never leaves a torn file), exec.fifo while the container is
 * created-but-not-started, exec.status (see Runtime.start), trace.log, and `mounts` for a container in
 * the host's mount namespace. mkdir of the directory is the lock that makes ids unique.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Spec, ContainerStatus } from './spec/types.ts';
import type { CgroupPlacement } from './cgroups/placement.ts';
import { RuntimeError, errnoCode } from './errors.ts';
import { isFrozen } from './cgroups/freezer.ts';
import { parseExact, stringifyExact } from './json.ts';

export const DEFAULT_ROOT = '/run/berth-oci';

export class NotFoundError extends RuntimeError {}

export interface ContainerRecord {
  id: string;
  bundle: string;
  rootfs: string;
  /** 0 while creating */
  pid: number;
  /** start time of the init in clock ticks (/proc/PID/stat field 22): guards against pid reuse */
  pidStart: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
  cgroup: CgroupPlacement;
  spec: Spec;
  /** foreground run: the berth-init that waits for the init to report its status (in the cgroup too) */
  helperPid?: number;
  /** create --no-new-keyring: the init kept the caller's session keyring, and so does exec */
  noNewKeyring?: boolean;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_+.-]{0,1023}$/;

export function validateId(id: string | undefined): string {
  if (!id) throw new RuntimeError('container id cannot be empty');
  if (!ID_RE.test(id) || id === '.' || id === '..') {
    throw new RuntimeError(`invalid container id "${id}": use 1 to 1024 letters, digits and _ + . - (not starting with a symbol)`);
  }
  return id;
}

export class StateStore {
  constructor(readonly root: string) {}

  dir(id: string): string {
    return `${this.root}/${id}`;
  }

  fifo(id: string): string {
    return `${this.dir(id)}/exec.fifo`;
  }

  /** The page in which the init reports why it died between `ready` and execve (empty if it did not). */
  execStatus(id: string): string {
    return `${this.dir(id)}/exec.status`;
  }

  tracePath(id: string): string {
    return `${this.dir(id)}/trace.log`;
  }

  /** berth-init's log of the mounts it made on the host, for a container without a mount namespace (hostmounts.ts) */
  mountLog(id: string): string {
    return `${this.dir(id)}/mounts`;
  }

  /** Claims the id: fails if a container with this id exists. */
  claim(id: string): void {
    mkdirSync(this.root, { recursive: true, mode: 0o711 });
    try {
      mkdirSync(this.dir(id), { mode: 0o711 });
    } catch (e) {
      if (errnoCode(e) === 'EEXIST') throw new RuntimeError(`container with id ${id} already exists`);
      throw e;
    }
  }

  write(rec: ContainerRecord): void {
    const file = `${this.dir(rec.id)}/state.json`;
    const tmp = `${file}.tmp`;
    // the state root is on tmpfs (/run): rename makes the update atomic, fsync would add nothing
    writeFileSync(tmp, stringifyExact(rec), { mode: 0o600 });
    renameSync(tmp, file);
  }

  read(id: string): ContainerRecord {
    validateId(id);
    let text: string;
    try {
      text = readFileSync(`${this.dir(id)}/state.json`, 'utf8');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') throw new NotFoundError(`container ${id} does not exist`);
      throw e;
    }
    try {
      return parseExact(text) as ContainerRecord;
    } catch {
      throw new RuntimeError(`container ${id}: state file ${this.dir(id)}/state.json is corrupt`);
    }
  }

  ids(): string[] {
    try {
      return readdirSync(this.root).filter((n) => existsSync(`${this.dir(n)}/state.json`)).sort();
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return [];
      throw e;
    }
  }

  /** async: a daemon deletes containers while it serves other clients */
  async remove(id: string): Promise<void> {
    await rm(this.dir(id), { recursive: true, force: true });
  }
}

/** Field 22 of /proc/PID/stat, or undefined if the process is gone or a zombie. */
export function processStart(pid: number): string | undefined {
  if (pid <= 0) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return fields[19];
}

export function isAlive(rec: ContainerRecord): boolean {
  return rec.pid > 0 && processStart(rec.pid) === rec.pidStart;
}

export function statusOf(store: StateStore, rec: ContainerRecord): ContainerStatus {
  if (rec.pid === 0) return 'creating';
  if (!isAlive(rec)) return 'stopped';
  if (existsSync(store.fifo(rec.id))) return 'created';
  return isFrozen(rec.cgroup) ? 'paused' : 'running';
}
