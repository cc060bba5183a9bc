/**
 * `GET /containers/json`: docker's container summaries, newest first, with `all`, `limit`,
 * `size` and the filters docker's `ps --filter` sends (id, name, label, status, exited,
 * ancestor, before, since, volume).
 */
import { InvalidParameterError } from '../errors.ts';
import type { ContainerContext } from './context.ts';
import { dockerMounts, usesVolume } from './mounts.ts';
import { listNetworks, listPorts } from './netmodes.ts';
import type { Loaded } from './store.ts';
import { isRunningStatus, timeMs, type ContainerRecord } from './types.ts';

/** go-units HumanDuration */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

/** docker's State.String(): `Up 3 seconds`, `Exited (0) 2 seconds ago`, `Created`… */
export function statusText(rec: ContainerRecord, now = Date.now()): string {
  const s = rec.state;
  if (s.Status === 'running' || s.Status === 'paused') {
    const up = `Up ${humanDuration(now - timeMs(s.StartedAt))}`;
    if (s.Paused) return `${up} (Paused)`;
    // docker's Health.String(): "health: starting", "healthy", "unhealthy"
    if (s.Health) return `${up} (${s.Health.Status === 'starting' ? 'health: starting' : s.Health.Status})`;
    return up;
  }
  if (s.Status === 'restarting') return `Restarting (${s.ExitCode}) ${humanDuration(now - timeMs(s.FinishedAt))} ago`;
  if (s.Status === 'removing') return 'Removal In Progress';
  if (s.Status === 'dead') return 'Dead';
  if (Number.isNaN(timeMs(s.StartedAt))) return 'Created';
  if (Number.isNaN(timeMs(s.FinishedAt))) return '';
  return `Exited (${s.ExitCode}) ${humanDuration(now - timeMs(s.FinishedAt))} ago`;
}

const FILTERS = new Set(['id', 'name', 'label', 'status', 'exited', 'ancestor', 'before', 'since', 'health', 'isolation', 'network', 'volume', 'publish', 'expose', 'is-task']);
const STATUSES = new Set(['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead']);

function commandOf(rec: ContainerRecord): string {
  return [rec.path, ...rec.args].join(' ');
}

export interface ListOptions {
  all: boolean;
  limit?: number;
  size: boolean;
  filters: Record<string, string[]>;
}

export function listContainers(ctx: ContainerContext, o: ListOptions): Record<string, unknown>[] {
  for (const [k, vs] of Object.entries(o.filters)) {
    if (!FILTERS.has(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
    if (k === 'status') for (const v of vs) if (!STATUSES.has(v)) throw new InvalidParameterError(`invalid filter 'status=${v}'`);
    if (k === 'health') for (const v of vs) if (!['starting', 'healthy', 'unhealthy', 'none'].includes(v)) throw new InvalidParameterError(`Unrecognised filter value for health: ${v}`);
    if (k === 'exited') for (const v of vs) if (!/^-?\d+$/.test(v)) throw new InvalidParameterError(`invalid filter 'exited=${v}'`);
  }
  const f = o.filters;
  let all: Loaded[] = ctx.store.all().filter((l) => !l.rec.creating).sort((a, b) => (a.rec.created < b.rec.created ? 1 : -1));
  const byRef = (ref: string): ContainerRecord | undefined => ctx.store.find(ref)?.rec;
  const before = f.before?.map(byRef);
  const since = f.since?.map(byRef);
  if (before?.some((r) => !r) || since?.some((r) => !r)) throw new InvalidParameterError(`No such container: ${[...(f.before ?? []), ...(f.since ?? [])].find((r) => !byRef(r))}`);
  const showAll = o.all || (o.limit !== undefined && o.limit > 0) || f.exited !== undefined || f.status !== undefined || before !== undefined || since !== undefined;
  all = all.filter(({ rec, hostConfig }) => {
    const running = isRunningStatus(rec.state.Status);
    if (!showAll && !running) return false;
    if (f.id && !f.id.some((v) => rec.id.startsWith(v))) return false;
    if (f.name && !f.name.some((v) => new RegExp(v).test(rec.name) || new RegExp(v).test(rec.name.slice(1)))) return false;
    if (f.status && !f.status.includes(rec.state.Status)) return false;
    if (f.health && !f.health.includes(rec.state.Health?.Status ?? 'none')) return false;
    if (f.exited && (rec.state.Status !== 'exited' || !f.exited.includes(String(rec.state.ExitCode)))) return false;
    if (f.label) {
      const labels = rec.config.Labels ?? {};
      for (const v of f.label) {
        const i = v.indexOf('=');
        if (i < 0 ? !(v in labels) : labels[v.slice(0, i)] !== v.slice(i + 1)) return false;
      }
    }
    if (f.ancestor && !f.ancestor.some((a) => a === rec.imageName || rec.image === a || rec.image.slice(7).startsWith(a) || a.replace(/:latest$/, '') === rec.imageName.replace(/:latest$/, ''))) return false;
    if (f.volume && !f.volume.some((v) => usesVolume(ctx, { rec, hostConfig }, v))) return false;
    if (before && !before.every((b) => rec.created < b!.created)) return false;
    if (since && !since.every((s) => rec.created > s!.created)) return false;
    return true;
  });
  if (o.limit !== undefined && o.limit > 0) all = all.slice(0, o.limit);
  const now = Date.now();
  return all.map((l) => ({ rec: l.rec, hostConfig: l.hostConfig, l })).map(({ rec, hostConfig, l }) => ({
    Id: rec.id,
    Names: [rec.name],
    Image: rec.imageName,
    ImageID: rec.image,
    Command: commandOf(rec),
    Created: Math.floor(Date.parse(rec.created) / 1000),
    Ports: listPorts(ctx, l),
    ...(o.size && { SizeRw: 0, SizeRootFs: 0 }),
    Labels: rec.config.Labels ?? {},
    State: rec.state.Status,
    Status: statusText(rec, now),
    HostConfig: { NetworkMode: hostConfig.NetworkMode ?? 'default' },
    NetworkSettings: { Networks: listNetworks(ctx, l) },
    Mounts: dockerMounts(ctx, rec, hostConfig),
  }));
}
