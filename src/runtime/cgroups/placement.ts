import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import type { CgroupLayout } from './layout.ts';

/** Where a container's cgroup is, per hierarchy, and which directories berth made (and so removes). */
export interface CgroupPlacement {
  path: string;
  dirs: string[];
  created: string[];
}

/**
 * A v1 cpuset cgroup starts with empty cpus/mems and refuses tasks until they are set: fill them
 * from the nearest ancestor that has values (a parent can be empty too, e.g. one made by `mkdir -p`).
 */
function fillCpuset(dir: string, mountPoint: string, file: string): void {
  if (readFileSync(`${dir}/${file}`, 'utf8').trim() !== '') return;
  let up = dir;
  let value = '';
  while (value === '' && up !== mountPoint && up.length > mountPoint.length) {
    up = up.slice(0, up.lastIndexOf('/'));
    value = readFileSync(`${up}/${file}`, 'utf8').trim();
  }
  if (value === '') throw new Error(`${dir}/${file}: no ancestor has a value to inherit`);
  writeFileSync(`${dir}/${file}`, value);
}

/** mkdir: true if made, false if it was there, undefined if its parent has gone (ENOENT). */
function mkdirIfMissing(dir: string): boolean | undefined {
  try {
    mkdirSync(dir);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Creates the cgroup directories of `path` in every hierarchy; records which ones it created. */
export function createCgroup(layout: CgroupLayout, path: string): CgroupPlacement {
  const placement: CgroupPlacement = { path, dirs: [], created: [] };
  const parts = path.split('/').filter(Boolean);
  try {
    for (const h of layout.hierarchies) {
      let dir = h.mountPoint;
      // another container's delete may remove the shared /berth parent between our mkdirs: when a
      // mkdir finds its parent gone, the walk starts again from the mount point (bounded)
      for (let attempt = 0; ; attempt++) {
        dir = h.mountPoint;
        let vanished = false;
        for (const part of parts) {
          dir = `${dir}/${part}`;
          const made = mkdirIfMissing(dir);
          if (made === undefined) {
            vanished = true;
            break;
          }
          if (made && !placement.created.includes(dir)) placement.created.push(dir);
          // ours to fill: what we just made, and berth's own shared parent
          if ((made || dir === `${h.mountPoint}/berth`) && h.version === 1 && h.controllers.includes('cpuset')) {
            fillCpuset(dir, h.mountPoint, 'cpuset.cpus');
            fillCpuset(dir, h.mountPoint, 'cpuset.mems');
          }
        }
        if (!vanished) break;
        if (attempt >= 20) throw new Error(`mkdir ${dir}: its parent directory keeps disappearing (removed by another container's delete)`);
      }
      placement.dirs.push(dir);
      // berth's own parent (/berth) is shared by its containers: whoever is deleted last removes it
      const own = `${h.mountPoint}/berth`;
      if (parts[0] === 'berth' && parts.length > 1 && !placement.created.includes(own)) placement.created.push(own);
    }
  } catch (e) {
    removeCgroup(placement);
    throw new Error(`cgroup ${path}: ${(e as Error).message}`);
  }
  return placement;
}

/**
 * removeCgroup off the event loop: a cgroup's rmdir waits in the kernel (RCU, the memory
 * controller's reparenting) for a millisecond or more per hierarchy. The container's own
 * directories, one per hierarchy, go in parallel; the shared parents after them, deepest first.
 */
export async function removeCgroupAsync(placement: CgroupPlacement): Promise<string[]> {
  const left: string[] = [];
  const byDepth = new Map<number, string[]>();
  for (const dir of placement.created) {
    const depth = dir.split('/').length;
    byDepth.set(depth, [...(byDepth.get(depth) ?? []), dir]);
  }
  for (const depth of [...byDepth.keys()].sort((a, b) => b - a)) {
    await Promise.all(byDepth.get(depth)!.map(async (dir) => {
      try {
        await rmdir(dir);
      } catch (e) {
        const why = leftBehind(placement, dir, e);
        if (why) left.push(why);
      }
    }));
  }
  return left;
}

/** The pids in the container's cgroup (from the first hierarchy that has the directory). */
export function cgroupPids(placement: CgroupPlacement): number[] {
  for (const dir of placement.dirs) {
    try {
      return readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number);
    } catch { /* try the next hierarchy */ }
  }
  return [];
}

/** What a failed rmdir of `dir` leaves to report: nothing when it is gone already, or when it is a
 * parent shared with other containers (busy); the container's own directory must go. */
function leftBehind(placement: CgroupPlacement, dir: string, e: unknown): string | undefined {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return undefined;
  if (!placement.dirs.includes(dir) && (code === 'EBUSY' || code === 'ENOTEMPTY')) return undefined;
  return `${dir}: ${code}`;
}

/** Removes the directories berth created, deepest first; shared parents stay while in use. */
export function removeCgroup(placement: CgroupPlacement): string[] {
  const left: string[] = [];
  const dirs = [...placement.created].sort((a, b) => b.split('/').length - a.split('/').length);
  for (const dir of dirs) {
    try {
      rmdirSync(dir);
    } catch (e) {
      const why = leftBehind(placement, dir, e);
      if (why) left.push(why);
    }
  }
  return left;
}
