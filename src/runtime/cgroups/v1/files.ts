/**
 * The cgroup v1 helpers for the controllers in this folder, on top of ../files.ts (has, read,
 * write, readKeyed, WriteError), which they share with v2.
 */
import { read } from '../files.ts';

/** A single-number file ("max" and unparsable text give undefined). */
export function readNumber(dir: string, file: string): number | undefined {
  const s = read(dir, file)?.trim();
  if (!s) return undefined;
  const n = Number(s.split(/\s+/)[0]);
  return Number.isFinite(n) ? n : undefined;
}

/** "MAJ:MIN" of a device rule or a per-device limit. */
export function majMin(major: number, minor: number): string {
  return `${major}:${minor}`;
}
