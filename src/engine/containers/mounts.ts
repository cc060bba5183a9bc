/**
 * A container's mounts around the spec builder: --volumes-from as docker 20.10 resolves it
 * (daemon/volumes.go registerMountPoints), the record's mounts once the volume service has named
 * the volumes, and docker's MountPoint (inspect's and ps's `Mounts`) derived from them.
 */
import { posix } from 'node:path';

import { InvalidParameterError } from '../errors.ts';
import { PROPAGATION_MODES, validMode, type MountPoint } from '../spec/mounts.ts';
import type { PreparedMounts } from '../volumes/index.ts';
import type { ContainerContext } from './context.ts';
import type { Loaded } from './store.ts';
import type { ContainerRecord, HostConfig } from './types.ts';

/** docker's types.MountPoint, field order as dockerd sends it */
export interface DockerMountPoint {
  Type: 'volume' | 'bind' | 'tmpfs';
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

/** docker's parseVolumesFrom: `CONTAINER[:MODE]`, MODE without propagation or copy modes. */
export function parseVolumesFrom(spec: string): { ref: string; rw: boolean } {
  if (spec === '') throw new InvalidParameterError('volumes-from specification cannot be an empty string');
  const i = spec.indexOf(':');
  if (i < 0) return { ref: spec, rw: true };
  const mode = spec.slice(i + 1);
  const modes = mode.split(',');
  if (!validMode(mode) || modes.some((m) => PROPAGATION_MODES.has(m) || m === 'nocopy')) throw new InvalidParameterError(`invalid mode: ${mode}`);
  return { ref: spec.slice(0, i), rw: !modes.includes('ro') };
}

/** the destinations of `--tmpfs` (HostConfig.Tmpfs): docker keeps them out of MountPoints */
function tmpfsFlagDestinations(hc: HostConfig): Set<string> {
  return new Set(Object.keys(hc.Tmpfs ?? {}).map((d) => posix.normalize(d)));
}

/**
 * The mount points HostConfig.VolumesFrom gives: each named container's volumes, binds and
 * `--mount` tmpfs at the same destinations, read-only when either side says so. Nothing is
 * copied into a volume that way, and an anonymous volume stays anonymous (`rm -v` of the last
 * container using it removes it, as docker's copied Spec does).
 */
export function volumesFrom(ctx: ContainerContext, hc: HostConfig): MountPoint[] {
  const out = new Map<string, MountPoint>();
  for (const spec of hc.VolumesFrom ?? []) {
    if (typeof spec !== 'string') throw new InvalidParameterError('HostConfig.VolumesFrom: want an array of strings');
    const { ref, rw } = parseVolumesFrom(spec);
    const from = ctx.store.get(ref);
    if (from.rec.creating) throw new InvalidParameterError(`--volumes-from ${ref}: the container is still being created`);
    const skip = tmpfsFlagDestinations(from.hostConfig);
    for (const m of from.rec.mounts ?? []) {
      if (m.type === 'tmpfs' && skip.has(m.destination)) continue;
      const cp: MountPoint = { ...m, rw: m.rw && rw, noCopy: true, createSource: false };
      delete cp.mode;
      if (m.type === 'volume') cp.anonymous = m.anonymous === true;
      out.set(cp.destination, cp);
    }
  }
  return [...out.values()];
}

/** The mount points as the record keeps them: each volume under the name the volume service gave it. */
export function recordMounts(mountPoints: readonly MountPoint[], prepared: PreparedMounts): MountPoint[] {
  const byDest = new Map(prepared.mounts.map((m) => [m.destination, m]));
  return mountPoints.map((mp) => {
    if (mp.type !== 'volume') return { ...mp };
    const v = byDest.get(mp.destination);
    if (!v) throw new Error(`the volume service prepared no volume for ${mp.destination}`);
    return { ...mp, source: v.name, anonymous: v.anonymous };
  });
}

/** docker's MountPoint for each of the container's mounts (its --tmpfs ones are not there, as docker's). */
export function dockerMounts(ctx: ContainerContext, rec: ContainerRecord, hc: HostConfig): DockerMountPoint[] {
  const skip = tmpfsFlagDestinations(hc);
  const out: DockerMountPoint[] = [];
  for (const m of rec.mounts ?? []) {
    if (m.type === 'volume') {
      // docker's setBindModeIfNull: a `-v` volume of the local driver without a mode shows "z"
      const mode = m.mode === undefined ? '' : m.mode || 'z';
      out.push({ Type: 'volume', Name: m.source, Source: ctx.volumes.dataPath(m.source), Destination: m.destination, Driver: 'local', Mode: mode, RW: m.rw, Propagation: '' });
    } else if (m.type === 'bind') {
      out.push({ Type: 'bind', Source: m.source, Destination: m.destination, Mode: m.mode ?? '', RW: m.rw, Propagation: m.propagation });
    } else if (!skip.has(m.destination)) {
      out.push({ Type: 'tmpfs', Source: '', Destination: m.destination, Mode: '', RW: m.rw, Propagation: '' });
    }
  }
  return out;
}

/** `ps --filter volume=X`: X is a volume's name, a bind's host path, or a destination (docker's rule). */
export function usesVolume(ctx: ContainerContext, l: Loaded, value: string): boolean {
  return dockerMounts(ctx, l.rec, l.hostConfig).some((m) => m.Destination === value || (m.Name !== undefined && m.Name !== '' ? m.Name === value : m.Source === value));
}
