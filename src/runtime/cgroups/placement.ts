import { mkdirSync, readFileSync, rmdirSync, writeFileSync, existsSync } from 'node:fs';
import type { CgroupLayout } from './layout.ts';

/** Where a container's cgroup is, per hierarchy, and which directories berth made (and so removes). */
export interface CgroupPlacement {
  path: string;
  dirs: string[];
  created: string[];
}

function copyIfEmpty(dir: string, parent: string, file: string): void {
  // a new v1 cpuset cgroup starts with empty cpus/mems and refuses tasks until they are set
  const mine = readFileSync(`${dir}/${file}`, 'utf8').trim();
  if (mine === '') writeFileSync(`${dir}/${file}`, readFileSync(`${parent}/${file}`, 'utf8').trim() || '\n');
}

/** Creates the cgroup directories of `path` in every hierarchy; records which ones it created. */
export function createCgroup(layout: CgroupLayout, path: string): CgroupPlacement {
  const placement: CgroupPlacement = { path, dirs: [], created: [] };
  const parts = path.split('/').filter(Boolean);
  try {
    for (const h of layout.hierarchies) {
      let dir = h.mountPoint;
      for (const part of parts) {
        const parent = dir;
        dir = `${dir}/${part}`;
        if (!existsSync(dir)) {
          mkdirSync(dir);
          placement.created.push(dir);
          if (h.version === 1 && h.controllers.includes('cpuset')) {
            copyIfEmpty(dir, parent, 'cpuset.cpus');
            copyIfEmpty(dir, parent, 'cpuset.mems');
          }
        }
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

/** The pids in the container's cgroup (from the first hierarchy that has the directory). */
export function cgroupPids(placement: CgroupPlacement): number[] {
  for (const dir of placement.dirs) {
    try {
      return readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number);
    } catch { /* try the next hierarchy */ }
  }
  return [];
}

/** Removes the directories berth created, deepest first; shared parents stay while in use. */
export function removeCgroup(placement: CgroupPlacement): string[] {
  const left: string[] = [];
  const dirs = [...placement.created].sort((a, b) => b.split('/').length - a.split('/').length);
  for (const dir of dirs) {
    try {
      rmdirSync(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      // a parent shared with other containers stays; the container's own dir must go
      if (!placement.dirs.includes(dir) && (code === 'EBUSY' || code === 'ENOTEMPTY')) continue;
      left.push(`${dir}: ${code}`);
    }
  }
  return left;
}
