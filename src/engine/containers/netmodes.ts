/**
 * Network, PID and IPC modes without a bridge (bridge networking is the next issue; until then
 * the default network is `none`, a namespace of the container's own with loopback up):
 * `none`/`default`, `host` (the host's namespace), `container:NAME` (another container's). As
 * dockerd does, create checks the modes and their conflicts, and start resolves a
 * `container:NAME` to that container's namespace files, /proc/PID/ns/*, which must be running.
 */
import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { Spec } from '../../runtime/spec/types.ts';
import { ConflictError, InvalidParameterError, NotFoundError } from '../errors.ts';
import type { ContainerContext } from './context.ts';
import type { Loaded } from './store.ts';
import type { DockerConfig, HostConfig } from './types.ts';

export type JoinType = 'network' | 'ipc' | 'pid';
const NS_FILE: Record<JoinType, string> = { network: 'net', ipc: 'ipc', pid: 'pid' };
/** dockerd's words for each in its "cannot join X of a non running container" */
const WHAT: Record<JoinType, string> = { network: 'network', ipc: 'IPC', pid: 'PID' };

export function containerMode(mode: string | undefined): string | undefined {
  return mode?.startsWith('container:') ? mode.slice('container:'.length) : undefined;
}

function modes(hc: HostConfig): Record<JoinType, string> {
  return { network: hc.NetworkMode ?? '', ipc: hc.IpcMode ?? '', pid: hc.PidMode ?? '' };
}

/**
 * docker's checks at create (runconfig's validateNetMode and dockerd's verifyContainerSettings),
 * the other containers named being looked up; returns docker's warnings.
 */
export function checkModes(ctx: ContainerContext, config: DockerConfig, hc: HostConfig): string[] {
  const warnings: string[] = [];
  const net = hc.NetworkMode ?? '';
  if (!['', 'default', 'none', 'host'].includes(net) && containerMode(net) === undefined) {
    if (net === 'bridge') throw new InvalidParameterError('network bridge: berth has no bridge network yet; use --network none (the default), host or container:NAME');
    throw new NotFoundError(`network ${net} not found`);
  }
  const target = containerMode(net);
  if (target !== undefined) {
    if (target === '') throw new InvalidParameterError('Invalid network mode: invalid container format container:<name|id>');
    if (config.Hostname) throw new InvalidParameterError('conflicting options: hostname and the network mode');
    // docker's order (runconfig's validateNetContainerMode), which decides the message when several conflict
    if ((hc.Dns ?? []).length > 0) throw new InvalidParameterError('conflicting options: dns and the network mode');
    if ((hc.ExtraHosts ?? []).length > 0) throw new InvalidParameterError('conflicting options: custom host-to-IP mapping and the network mode');
    if (Object.keys(hc.PortBindings ?? {}).length > 0 || hc.PublishAllPorts) throw new InvalidParameterError('conflicting options: port publishing and the container type network mode');
  } else if (Object.keys(hc.PortBindings ?? {}).length > 0) {
    warnings.push(net === 'host' ? 'Published ports are discarded when using host network mode'
      : 'Published ports are discarded: berth has no bridge network yet (the container\'s network is none)');
  }
  for (const [type, mode] of Object.entries(modes(hc)) as [JoinType, string][]) {
    const ref = containerMode(mode);
    if (ref === undefined) continue;
    if (ref === '') throw new InvalidParameterError(`Invalid ${WHAT[type]} mode: invalid container format container:<name|id>`);
    if (!ctx.store.find(ref)) throw new NotFoundError(`No such container: ${ref}`);
  }
  return warnings;
}

/** The container another one's `container:REF` mode names; docker's errors if it is not running. */
function target(ctx: ContainerContext, self: string, type: JoinType, ref: string): Loaded {
  const t = ctx.store.find(ref);
  if (!t) throw new NotFoundError(`No such container: ${ref}`);
  if (t.rec.id === self) throw new InvalidParameterError(`cannot join own ${WHAT[type]}`);
  const s = t.rec.state.Status;
  if (s === 'restarting') throw new ConflictError(`cannot join ${WHAT[type]} of a restarting container: ${t.rec.id}`);
  if ((s !== 'running' && s !== 'paused') || t.rec.state.Pid <= 0) throw new ConflictError(`cannot join ${WHAT[type]} of a non running container: ${t.rec.id}`);
  return t;
}

/** The namespace files a container joins now (its `container:REF` modes), the targets checked running. */
export function joinPaths(ctx: ContainerContext, l: Loaded): Partial<Record<JoinType, string>> {
  const out: Partial<Record<JoinType, string>> = {};
  for (const [type, mode] of Object.entries(modes(l.hostConfig)) as [JoinType, string][]) {
    const ref = containerMode(mode);
    if (ref === undefined) continue;
    out[type] = `/proc/${target(ctx, l.rec.id, type, ref).rec.state.Pid}/ns/${NS_FILE[type]}`;
  }
  return out;
}

/** Placeholders for create (the spec builder wants a path; start writes the live ones in). */
export function joinPlaceholders(hc: HostConfig): Partial<Record<JoinType, string>> {
  const out: Partial<Record<JoinType, string>> = {};
  for (const [type, mode] of Object.entries(modes(hc)) as [JoinType, string][]) {
    if (containerMode(mode) !== undefined) out[type] = `/proc/0/ns/${NS_FILE[type]}`;
  }
  return out;
}

/** At start: the bundle's spec gets the namespaces of the containers it joins, as they are now. */
export async function writeJoins(ctx: ContainerContext, l: Loaded): Promise<void> {
  const paths = joinPaths(ctx, l);
  if (Object.keys(paths).length === 0) return;
  const file = join(ctx.bundleDir(l.rec.id), 'config.json');
  const spec = JSON.parse(await readFile(file, 'utf8')) as Spec;
  for (const ns of spec.linux?.namespaces ?? []) {
    const p = paths[ns.type as JoinType];
    if (p) ns.path = p;
  }
  const tmp = `${file}.tmp`;
  await writeFile(tmp, JSON.stringify(spec));
  await rename(tmp, file);
}

/** The other container whose network a `container:REF` container shares (for its /etc files and hostname), if it still exists. */
export function networkTarget(ctx: ContainerContext, hc: HostConfig): Loaded | undefined {
  const ref = containerMode(hc.NetworkMode);
  return ref === undefined ? undefined : ctx.store.find(ref);
}

const networkId = (name: string): string => createHash('sha256').update(`berth-network-${name}`).digest('hex');

/** docker's NetworkSettings for the modes berth has: `none` (also `default`, until bridge lands), `host`, or another container's. */
export function networkSettings(l: Loaded): Record<string, unknown> {
  const { rec, hostConfig } = l;
  const mode = hostConfig.NetworkMode ?? '';
  const running = rec.state.Running;
  const endpoint = (name: string): Record<string, unknown> => ({
    IPAMConfig: null, Links: null, Aliases: null, NetworkID: networkId(name),
    EndpointID: running ? createHash('sha256').update(`${rec.id}/${name}/${rec.state.StartedAt}`).digest('hex') : '',
    Gateway: '', IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, MacAddress: '', DriverOpts: null,
  });
  const name = mode === 'host' ? 'host' : containerMode(mode) !== undefined ? undefined : 'none';
  return {
    Bridge: '', SandboxID: '', HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0, Ports: {},
    SandboxKey: running && name === 'none' ? `/proc/${rec.state.Pid}/ns/net` : '',
    SecondaryIPAddresses: null, SecondaryIPv6Addresses: null, EndpointID: '', Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0,
    IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', MacAddress: '',
    Networks: name ? { [name]: endpoint(name) } : {},
  };
}

/** What `docker ps` shows of the networks (its NETWORKS column, `{{.Networks}}`). */
export function listNetworks(l: Loaded): Record<string, unknown> {
  return (networkSettings(l).Networks as Record<string, unknown>);
}
