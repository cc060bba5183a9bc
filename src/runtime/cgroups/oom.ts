/**
 * OOM kills of a container, read from its memory cgroup: v1 memory.oom_control (`oom_kill N`,
 * `under_oom 0|1`), v2 memory.events (`oom N`, `oom_kill N`).
 *
 * The kernel keeps these counters for as long as the cgroup exists, so `state` computes its
 * `oomKilled` flag from them on every call rather than recording it in state.json: the flag is
 * right from the moment of the kill until `delete` removes the cgroup (after which there is no
 * state to show anyway). runc's v1 code waits on an eventfd registered through
 * cgroup.event_control; Node cannot make eventfds, so `events` polls these counters instead
 * (a read of one small cgroup file, every 100 ms by default).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { CgroupPlacement } from './placement.ts';

export interface OomCounters {
  /** processes the OOM killer killed in the cgroup (v1 and v2 `oom_kill`) */
  oomKill: number;
  /** v2 `oom`: times the cgroup hit its limit and the OOM killer was invoked (v1: not counted, 0) */
  oom: number;
  /** v1 `under_oom`: the cgroup is out of memory now (with the OOM killer disabled its tasks wait) */
  underOom: boolean;
}

/** The file that holds the container's OOM counters: the v1 memory hierarchy's, else cgroup2's. */
export function oomFile(placement: CgroupPlacement): { path: string; version: 1 | 2 } | undefined {
  for (const dir of placement.dirs) {
    if (existsSync(`${dir}/memory.oom_control`)) return { path: `${dir}/memory.oom_control`, version: 1 };
  }
  for (const dir of placement.dirs) {
    if (existsSync(`${dir}/memory.events`)) return { path: `${dir}/memory.events`, version: 2 };
  }
  return undefined;
}

/** Parses memory.oom_control (v1) or memory.events (v2). */
export function parseOomCounters(text: string, version: 1 | 2): OomCounters {
  const kv = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) kv.set(k, Number(v));
  }
  return {
    oomKill: kv.get('oom_kill') ?? 0,
    oom: version === 2 ? kv.get('oom') ?? 0 : 0,
    underOom: version === 1 && (kv.get('under_oom') ?? 0) > 0,
  };
}

/** The counters now, or undefined when the cgroup has no memory controller (or is gone). */
export function readOomCounters(file: { path: string; version: 1 | 2 } | undefined): OomCounters | undefined {
  if (!file) return undefined;
  try {
    return parseOomCounters(readFileSync(file.path, 'utf8'), file.version);
  } catch {
    return undefined;
  }
}

/** How many processes of the container the OOM killer killed (0 without a memory cgroup). */
export function oomKillCount(placement: CgroupPlacement): number {
  return readOomCounters(oomFile(placement))?.oomKill ?? 0;
}
