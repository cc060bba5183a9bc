/** pause/resume: the v1 freezer controller or cgroup v2's cgroup.freeze, whichever holds the container. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { CgroupPlacement } from './placement.ts';
import { sleep } from '../sleep.ts';

interface Freezer {
  set(frozen: boolean): void;
  isFrozen(): boolean;
}

function freezerOf(placement: CgroupPlacement): Freezer | undefined {
  for (const dir of placement.dirs) {
    if (existsSync(`${dir}/freezer.state`)) {
      return {
        set: (frozen) => writeFileSync(`${dir}/freezer.state`, frozen ? 'FROZEN' : 'THAWED'),
        // FREEZING means some tasks are not frozen yet
        isFrozen: () => readFileSync(`${dir}/freezer.state`, 'utf8').trim() === 'FROZEN',
      };
    }
  }
  for (const dir of placement.dirs) {
    if (existsSync(`${dir}/cgroup.freeze`)) {
      return {
        set: (frozen) => writeFileSync(`${dir}/cgroup.freeze`, frozen ? '1' : '0'),
        isFrozen: () => /^frozen 1$/m.test(readFileSync(`${dir}/cgroup.events`, 'utf8')),
      };
    }
  }
  return undefined;
}

/** Freezes (or thaws) every process of the container and waits (without blocking) until the kernel says it is done. */
export async function setFrozen(placement: CgroupPlacement, frozen: boolean, timeoutMs = 10000): Promise<void> {
  const f = freezerOf(placement);
  if (!f) throw new Error('no freezer: neither a v1 freezer hierarchy nor cgroup.freeze (v2) is available');
  const deadline = Date.now() + timeoutMs;
  for (let delay = 0.1; ; delay = Math.min(delay * 2, 20)) {
    f.set(frozen);
    if (f.isFrozen() === frozen) return;
    if (Date.now() > deadline) throw new Error(`cgroup did not become ${frozen ? 'frozen' : 'thawed'} within ${timeoutMs} ms`);
    await sleep(delay);
  }
}

export function isFrozen(placement: CgroupPlacement): boolean {
  try {
    return freezerOf(placement)?.isFrozen() ?? false;
  } catch {
    return false;
  }
}
