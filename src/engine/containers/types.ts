/**
 * The engine's container record (`<data>/containers/<id>/config.v2.json`) and docker's wire
 * shapes derived from it. The record keeps docker's own field names where docker's inspect shows
 * them (Config, State), so inspect is a projection, not a translation.
 */

/** docker's zero time, what inspect shows for a time that never happened */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

/** docker's container.State as inspect shows it */
export interface ContainerState {
  Status: ContainerStatus;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  /** only for a container with a healthcheck (health.ts) */
  Health?: HealthState;
}

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

export interface HealthResult {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

/** docker's State.Health */
export interface HealthState {
  Status: HealthStatus;
  FailingStreak: number;
  Log: HealthResult[];
}

/** docker's Config and HostConfig: the request's shapes, defined with the spec builder that takes them */
export type { ContainerConfig as DockerConfig, HostConfig, RestartPolicy } from '../spec/docker-types.ts';
import type { ContainerConfig as DockerConfig } from '../spec/docker-types.ts';
import type { ContainerTimings } from './timings.ts';
import type { MountPoint } from '../spec/mounts.ts';
import type { EndpointRecord } from '../netplane/plane.ts';
import type { PublishedPort } from '../netplane/ports.ts';

export interface ContainerRecord {
  schemaVersion: 1;
  /** 64 hex digits */
  id: string;
  /** with docker's leading slash: `/web` */
  name: string;
  /** RFC 3339 (nanoseconds) */
  created: string;
  /** the image as the client named it, and the ID (config digest) it resolved to */
  imageName: string;
  image: string;
  /** what the container's init runs (docker's Path and Args) */
  path: string;
  args: string[];
  /** the client's Config merged with the image's (docker's container.Config) */
  config: DockerConfig;
  state: ContainerState;
  restartCount: number;
  /** set by `docker stop` (unless-stopped must not restart it, even after a daemon restart) */
  manuallyStopped?: boolean;
  hasBeenStarted?: boolean;
  logPath: string;
  /** the files bind-mounted on /etc/hostname, /etc/hosts, /etc/resolv.conf */
  hostnamePath?: string;
  hostsPath?: string;
  resolvConfPath?: string;
  /** the container's own mounts (binds, volumes under their names, tmpfs), for inspect's Mounts and --volumes-from */
  mounts?: MountPoint[];
  /** set with `removing` by `rm -v`: a removal the daemon died in removes the anonymous volumes too */
  removeVolumes?: boolean;
  /** the signal `docker stop` sends */
  stopSignal?: string;
  /** the monitor holding the container while it runs */
  monitorPid?: number;
  runtime: string;
  /** how long create and the latest start took, phase by phase (for explain) */
  timings?: ContainerTimings;
  /**
   * set until create has finished (bundle mounted, spec written): a record found with it at
   * daemon start belongs to a create that died, and is cleaned up
   */
  creating?: boolean;
  driver: string;
  /** its places on bridge networks, with the addresses leased at create (released at rm) */
  endpoints?: EndpointRecord[];
  /** while it runs on a bridge network: its network namespace (docker's SandboxKey) */
  sandboxKey?: string;
  /** while it runs: its published ports as resolved, held again by a restarted daemon */
  ports?: PublishedPort[];
}

/** docker's NetworkingConfig of a create: the endpoint settings of the network it starts on */
export interface NetworkingConfig {
  EndpointsConfig?: Record<string, EndpointSettingsRequest | null>;
}

/** docker's EndpointSettings as a create or a connect asks for it */
export interface EndpointSettingsRequest {
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string } | null;
  Aliases?: string[] | null;
  MacAddress?: string;
}

export function isRunningStatus(s: ContainerStatus): boolean {
  return s === 'running' || s === 'paused' || s === 'restarting';
}

/** Nanosecond RFC 3339 "now" in docker's form (trailing zeros of the fraction trimmed). */
export function nowRfc3339(): string {
  const ms = Date.now();
  const ns = process.hrtime.bigint() % 1_000_000n;
  const iso = new Date(ms).toISOString(); // ...sss Z
  const frac = `${iso.slice(20, 23)}${ns.toString().padStart(6, '0')}`.replace(/0+$/, '');
  return `${iso.slice(0, 19)}${frac ? `.${frac}` : ''}Z`;
}

/** Milliseconds since the epoch of an RFC 3339 time (nanoseconds ignored); NaN for the zero time. */
export function timeMs(t: string): number {
  if (!t || t.startsWith('0001-')) return NaN;
  return Date.parse(t);
}
