/**
 * The mounts of a container that shares the host's mount namespace (linux.namespaces lists no
 * "mount"). They are made on the host, under the rootfs, and nothing makes them go away when the
 * container's processes die, as a mount namespace would. berth-init logs each one (its mount id
 * and its destination) to `<state dir>/mounts` the moment it exists; `delete` and a failed
 * `create` unmount exactly the logged mounts that are still there, newest first. The log is
 * written before berth-oci learns anything, so a crash of berth-oci leaves a `delete --force`
 * everything it needs.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { Plan } from '../native/plan.ts';
import { runOneOffPlan } from '../native/helper.ts';
import { explain } from './trace.ts';
import { errnoCode } from './errors.ts';

export interface LoggedMount {
  id: number;
  /** the destination in the container, as the plan named it */
  dest: string;
}

/** The mounts berth-init logged, oldest first ([] when there is no log: the container has a mount namespace). */
export function readMountLog(path: string): LoggedMount[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return [];
    throw e;
  }
  const out: LoggedMount[] = [];
  for (const line of text.split('\n')) {
    const tab = line.indexOf('\t');
    // only whole lines ("ID\tDEST"): a line without its tab was cut short
    const id = Number(tab > 0 ? line.slice(0, tab) : NaN);
    if (Number.isInteger(id) && id > 0) out.push({ id, dest: line.slice(tab + 1) });
  }
  return out;
}

const unescapeMount = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Mount id → mount point, from /proc/self/mountinfo. */
export function mountPoints(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): Map<number, string> {
  const m = new Map<number, string>();
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    if (f.length > 4) m.set(Number(f[0]), unescapeMount(f[4]!));
  }
  return m;
}

function realRoot(rootfs: string): string {
  try {
    return realpathSync(rootfs);
  } catch {
    return rootfs;
  }
}

/**
 * The logged mounts still mounted under `rootfs`, newest first, with their mount points. A
 * logged id that is gone, or now names a mount elsewhere (ids are reused once a mount is gone),
 * is not ours any more and is left out.
 */
export function mountsToRemove(log: readonly LoggedMount[], rootfs: string, points = mountPoints()): { id: number; path: string }[] {
  const root = realRoot(rootfs);
  const out: { id: number; path: string }[] = [];
  const seen = new Set<number>();
  for (const m of [...log].reverse()) {
    const p = points.get(m.id);
    if (p === undefined || seen.has(m.id) || !(p === root || p.startsWith(root + '/'))) continue;
    seen.add(m.id);
    out.push({ id: m.id, path: p });
  }
  return out;
}

/** The one-off plan that unmounts them (exported for tests and --debug). */
export function unmountPlan(mounts: readonly { id: number; path: string }[]): Plan {
  const plan = new Plan();
  for (const m of mounts) plan.add('umount_mnt', m.path, m.id);
  return plan.add('done');
}

/**
 * Unmounts the mounts logged in `logPath` that are still under `rootfs`. Throws naming the
 * mounts that are left (their mount points), so the caller can report them.
 */
export async function unmountHostMounts(logPath: string, rootfs: string, what: string): Promise<void> {
  const log = readMountLog(logPath);
  if (log.length === 0) return;
  const todo = mountsToRemove(log, rootfs);
  let err: Error | undefined;
  if (todo.length) {
    try {
      await runOneOffPlan(unmountPlan(todo), `${what}: unmounting the container's mounts under ${rootfs}`, explain);
    } catch (e) {
      err = e as Error;
    }
  }
  const left = mountsToRemove(log, rootfs);
  if (left.length) {
    throw new Error(`mounts left under the rootfs: ${left.map((m) => m.path).join(', ')}${err ? ` (${err.message})` : ''}`);
  }
}
