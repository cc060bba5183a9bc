/**
 * A container's filesystem as the container sees it, reached from the host without ever leaving
 * it: paths resolve as openat2(RESOLVE_IN_ROOT) would (absolute symlinks and `..` stop at the
 * container's root), and the container's bind mounts and the files docker mounts on
 * /etc/hostname, /etc/hosts and /etc/resolv.conf are entered at their destinations, as
 * `docker cp` sees them.
 *
 * Why this shape (CVE-2018-15664, CVE-2019-14271): a check-then-use on host paths
 * (`lstat(rootfs/a/b)`, then `open(rootfs/a/b)`) lets the container swap `a` for a symlink to
 * `/` in between, and the host's file is read or written. Docker's answer was to freeze the
 * container for the copy; that leaves volumes shared with other running containers open to the
 * same swap and stalls the workload. Here every step is taken relative to a directory we hold
 * open: one component at a time through `/proc/self/fd/N/NAME` with O_NOFOLLOW|O_PATH (Node has
 * no openat; the magic link pins the parent, the kernel resolves only NAME, and O_NOFOLLOW
 * refuses a symlink at NAME). A symlink found is read (readlink does not follow it) and its text
 * is resolved by this same walk, in the container's root; `..` pops our own stack of open
 * directories, never the kernel's, so nothing climbs above the root. A swap between two steps
 * only changes which in-root object the next step finds. What is finally opened for reading is
 * reopened from the O_PATH fd (`/proc/self/fd/N`), the very inode that was checked. Writes and
 * removals likewise name only a final component under a held directory fd, with O_NOFOLLOW /
 * O_EXCL, and recursive removal walks by fds (removeTree), never by path.
 */
import * as fs from 'node:fs';
import { constants as C } from 'node:fs';
import { posix } from 'node:path';

/** Linux's O_PATH (not in Node's constants). */
export const O_PATH = 0o10000000;
const MAX_SYMLINKS = 40;

export const procFd = (fd: number, name?: string): string => (name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`);

/** An error with an errno code, as fs would throw it. */
export class InRootError extends Error {
  constructor(readonly code: 'ENOENT' | 'ENOTDIR' | 'ELOOP' | 'EINVAL', readonly path: string, message: string) {
    super(message);
  }
}

/** A mount in the container: what is at `destination` comes from the host path `source`. */
export interface InRootMount {
  destination: string;
  source: string;
  readOnly: boolean;
}

/** One resolved object: an O_PATH fd (not following a final symlink) and where it is in the container. */
export interface InRootNode {
  fd: number;
  /** the absolute path in the container this was reached by (symlinks resolved) */
  path: string;
  st: fs.BigIntStats;
  /** the mount it is in, if not the root filesystem */
  mount?: InRootMount;
}

export class InRootFs {
  readonly #rootFd: number;
  readonly #mounts = new Map<string, InRootMount>();
  /** every fd opened for this view, closed by close() */
  readonly #fds = new Set<number>();
  #closed = false;

  /** `root` is a host path berth made (the bundle's rootfs or upper dir); mount sources are the user's/engine's host paths. */
  constructor(readonly root: string, mounts: readonly InRootMount[] = []) {
    this.#rootFd = fs.openSync(root, O_PATH | C.O_DIRECTORY);
    for (const m of mounts) this.#mounts.set(posix.normalize(m.destination).replace(/(.)\/+$/, '$1'), m);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const fd of this.#fds) fs.closeSync(fd);
    this.#fds.clear();
    fs.closeSync(this.#rootFd);
  }

  /** Closes a node's fd early (a tree walk would otherwise hold one per entry). */
  release(n: InRootNode): void {
    if (n.fd === this.#rootFd || !this.#fds.has(n.fd)) return;
    this.#fds.delete(n.fd);
    fs.closeSync(n.fd);
  }

  #track(fd: number): number {
    this.#fds.add(fd);
    return fd;
  }

  rootNode(): InRootNode {
    return { fd: this.#rootFd, path: '/', st: fs.fstatSync(this.#rootFd, { bigint: true }) };
  }

  mountAt(path: string): InRootMount | undefined {
    return this.#mounts.get(path);
  }

  /** The mount (or undefined: the root filesystem) that `path` (resolved) lies in. */
  mountOf(path: string): InRootMount | undefined {
    let best: InRootMount | undefined;
    for (const [dest, m] of this.#mounts) {
      if ((path === dest || path.startsWith(`${dest}/`)) && (!best || dest.length > best.destination.length)) best = m;
    }
    return best;
  }

  /**
   * The entry NAME of directory `dir`, not following it if it is a symlink; a mount's source
   * when a mount is there. Undefined when there is none (ENOENT).
   */
  child(dir: InRootNode, name: string): InRootNode | undefined {
    if (name === '' || name === '.' || name === '..' || name.includes('/')) throw new InRootError('EINVAL', name, `invalid name ${JSON.stringify(name)}`);
    const path = dir.path === '/' ? `/${name}` : `${dir.path}/${name}`;
    const mount = this.#mounts.get(path);
    let fd: number;
    try {
      // a mount's source is a host path the user (or berthd) chose, not the container's: followed as given
      fd = mount ? fs.openSync(mount.source, O_PATH) : fs.openSync(procFd(dir.fd, name), O_PATH | C.O_NOFOLLOW);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      if (code === 'ENOTDIR') throw new InRootError('ENOTDIR', path, `${dir.path} is not a directory`);
      throw e;
    }
    this.#track(fd);
    const inMount = mount ?? dir.mount;
    return { fd, path, st: fs.fstatSync(fd, { bigint: true }), ...(inMount && { mount: inMount }) };
  }

  /** readlink of symlink `name` in `dir` (a mount's source is never a symlink here: it was opened following). */
  readlinkIn(dir: InRootNode, name: string): string {
    return fs.readlinkSync(procFd(dir.fd, name));
  }

  /** The text of symlink `name` in `dir`; undefined when it is no longer a symlink; ENOENT when it is gone. */
  #readlinkOrRetry(dir: InRootNode, name: string, path: string): string | undefined {
    try {
      return this.readlinkIn(dir, name);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EINVAL') return undefined;
      if (code === 'ENOENT') throw new InRootError('ENOENT', path, 'no such file or directory');
      throw e;
    }
  }

  /**
   * Resolves `path` (absolute, or relative to `from`'s stack) in the container. Every symlink on
   * the way is followed inside the container's root; the last component's only when
   * `followFinal`. Throws InRootError ENOENT / ENOTDIR / ELOOP.
   */
  resolve(path: string, opts: { followFinal: boolean; from?: InRootNode[] } = { followFinal: true }): InRootNode {
    const stack = this.resolveStack(path, opts);
    return stack[stack.length - 1]!;
  }

  /** As resolve, with the directories walked through (the root first). */
  resolveStack(path: string, opts: { followFinal: boolean; from?: InRootNode[] }): InRootNode[] {
    let stack: InRootNode[] = path.startsWith('/') || !opts.from ? [this.rootNode()] : [...opts.from];
    const parts = path.split('/');
    let links = 0;
    while (parts.length > 0) {
      const p = parts.shift()!;
      if (p === '' || p === '.') continue;
      if (p === '..') {
        if (stack.length > 1) stack.pop();
        continue;
      }
      const cur = stack[stack.length - 1]!;
      if (!cur.st.isDirectory()) throw new InRootError('ENOTDIR', cur.path, `${cur.path} is not a directory`);
      const next = this.child(cur, p);
      if (!next) throw new InRootError('ENOENT', cur.path === '/' ? `/${p}` : `${cur.path}/${p}`, 'no such file or directory');
      const last = !parts.some((x) => x !== '' && x !== '.');
      if (next.st.isSymbolicLink() && (!last || opts.followFinal)) {
        if (++links > MAX_SYMLINKS) throw new InRootError('ELOOP', next.path, `too many levels of symbolic links at ${next.path}`);
        this.release(next);
        const target = this.#readlinkOrRetry(cur, p, next.path);
        if (target === undefined) {
          parts.unshift(p); // no longer a symlink (the container changed it): look again
          continue;
        }
        if (target.startsWith('/')) stack = [this.rootNode()];
        parts.unshift(...target.split('/'));
        continue;
      }
      stack.push(next);
    }
    return stack;
  }

  /**
   * docker's FollowSymlinkInScope: `path` with every symlink resolved in the container's root,
   * as text; components that do not exist are kept as they are (a dangling link's target).
   */
  resolveText(path: string): string {
    const parts = path.split('/');
    let stack = [this.rootNode()];
    const rest: string[] = [];
    let links = 0;
    while (parts.length > 0) {
      const p = parts.shift()!;
      if (p === '' || p === '.') continue;
      if (p === '..') {
        if (rest.length > 0) rest.pop();
        else if (stack.length > 1) stack.pop();
        continue;
      }
      if (rest.length > 0) {
        rest.push(p);
        continue;
      }
      const cur = stack[stack.length - 1]!;
      const next = cur.st.isDirectory() ? this.child(cur, p) : undefined;
      if (!next) {
        rest.push(p);
        continue;
      }
      if (next.st.isSymbolicLink()) {
        if (++links > MAX_SYMLINKS) throw new InRootError('ELOOP', next.path, `too many levels of symbolic links at ${next.path}`);
        this.release(next);
        const target = this.#readlinkOrRetry(cur, p, next.path);
        if (target === undefined) {
          parts.unshift(p);
          continue;
        }
        if (target.startsWith('/')) stack = [this.rootNode()];
        parts.unshift(...target.split('/'));
        continue;
      }
      stack.push(next);
    }
    const base = stack[stack.length - 1]!.path;
    return rest.length === 0 ? base : posix.join(base, ...rest);
  }

  /** Names in directory `dir`, sorted as docker's walks are (byte order). */
  list(dir: InRootNode): string[] {
    return fs.readdirSync(procFd(dir.fd)).sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));
  }

  /** A readable fd on the very file `n` is (reopened from its O_PATH fd); the caller closes it. */
  openRead(n: InRootNode): number {
    if (!n.st.isFile()) throw new InRootError('EINVAL', n.path, `${n.path} is not a regular file`);
    // the magic link itself is a symlink: no O_NOFOLLOW here; it can only lead to the inode n.fd holds
    return fs.openSync(procFd(n.fd), C.O_RDONLY);
  }

  /** A directory fd open for reading (fchown/fchmod/futimes on it); the caller closes it. */
  openDir(n: InRootNode): number {
    return fs.openSync(procFd(n.fd), C.O_RDONLY | C.O_DIRECTORY);
  }

  /** Removes entry `name` of `dir`, a directory with everything in it, walking by fds. */
  removeTree(dir: InRootNode, name: string): void {
    const n = this.child(dir, name);
    if (!n) return;
    try {
      if (this.mountAt(n.path)) throw new InRootError('EINVAL', n.path, `${n.path} is a mount point`);
      if (n.st.isDirectory()) {
        for (const c of this.list(n)) this.removeTree(n, c);
        fs.rmdirSync(procFd(dir.fd, name));
      } else {
        fs.unlinkSync(procFd(dir.fd, name));
      }
    } finally {
      this.release(n);
    }
  }
}
