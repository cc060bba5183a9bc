/**
 * Network, PID and IPC modes: `default`/`bridge` (the default bridge network), a user-defined
 * network's name, `none` (a namespace of the container's own with loopback only), `host` (the
 * host's namespace), `container:NAME` (another container's). As dockerd does, create checks the
 * modes and their conflicts, and start resolves a `container:NAME` to that container's namespace
 * files, /proc/PID/ns/*, which must be running, and a bridge network's to its sandbox.
 */
import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { Spec } from '../../runtime/spec/types.ts';
import { ConflictError, InvalidParameterError, NotFoundError } from '../errors.ts';
import type { ContainerContext } from './context.ts';
import type { Loaded } from './store.ts';
import type { DockerConfig, HostConfig } from './types.ts';
import type { EndpointRecord } from '../netplane/plane.ts';
import type { NetworkRecord } from '../networks/types.ts';

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
  if (!['', 'default', 'none', 'host'].includes(net) && containerMode(net) === undefined && !ctx.net.lookup(net)) {
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
  } else if (Object.keys(hc.PortBindings ?? {}).length > 0 && net === 'host') {
    warnings.push('Published ports are discarded when using host network mode');
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

/** The network a container's mode puts it on with an endpoint of its own (bridge networks), if any. */
export function endpointNetwork(ctx: ContainerContext, hc: HostConfig): NetworkRecord | undefined {
  const mode = hc.NetworkMode ?? '';
  if (mode === 'none' || mode === 'host' || containerMode(mode) !== undefined) return undefined;
  const n = ctx.net.lookup(mode === '' || mode === 'default' ? 'bridge' : mode);
  return n?.driver === 'bridge' ? n : undefined;
}

/** Placeholders for create (the spec builder wants a path; start writes the live ones in). */
export function joinPlaceholders(hc: HostConfig, bridged: boolean): Partial<Record<JoinType, string>> {
  const out: Partial<Record<JoinType, string>> = {};
  if (bridged) out.network = '/proc/0/ns/net';
  for (const [type, mode] of Object.entries(modes(hc)) as [JoinType, string][]) {
    if (containerMode(mode) !== undefined) out[type] = `/proc/0/ns/${NS_FILE[type]}`;
  }
  return out;
}

/**
 * At start: the bundle's spec gets the namespaces of the containers it joins, as they are now,
 * and a bridged container's network namespace is its sandbox (`sandbox`; none: a namespace of its
 * own, for a container disconnected from every network).
 */
export async function writeJoins(ctx: ContainerContext, l: Loaded, sandbox?: string): Promise<void> {
  const paths = joinPaths(ctx, l);
  const bridged = endpointNetwork(ctx, l.hostConfig) !== undefined || (l.rec.endpoints ?? []).length > 0;
  if (Object.keys(paths).length === 0 && !bridged) return;
  if (containerMode(l.hostConfig.NetworkMode) === undefined && bridged) paths.network = sandbox;
  const file = join(ctx.bundleDir(l.rec.id), 'config.json');
  const spec = JSON.parse(await readFile(file, 'utf8')) as Spec;
  for (const ns of spec.linux?.namespaces ?? []) {
    if (!(ns.type in NS_FILE)) continue;
    const p = paths[ns.type as JoinType];
    if (p) ns.path = p;
    else if (ns.type === 'network' && bridged && containerMode(l.hostConfig.NetworkMode) === undefined) delete ns.path;
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

/** docker's EndpointSettings of a container on a bridge network (addresses shown while it runs, as docker's). */
function bridgeEndpoint(rec: Loaded['rec'], ep: EndpointRecord): Record<string, unknown> {
  const running = rec.state.Running;
  const v4 = running ? ep.lease.v4 : undefined;
  const v6 = running ? ep.lease.v6 : undefined;
  const userNet = ep.networkName !== 'bridge';
  return {
    IPAMConfig: ep.requested ? { ...(ep.requested.v4 && { IPv4Address: ep.requested.v4 }), ...(ep.requested.v6 && { IPv6Address: ep.requested.v6 }) } : null,
    Links: null,
    Aliases: userNet ? [rec.id.slice(0, 12), ...ep.aliases] : null,
    NetworkID: ep.networkId,
    EndpointID: running ? ep.endpointId : '',
    Gateway: v4?.gateway ?? '', IPAddress: v4?.address ?? '', IPPrefixLen: v4?.prefix ?? 0,
    IPv6Gateway: v6?.gateway ?? '', GlobalIPv6Address: v6?.address ?? '', GlobalIPv6PrefixLen: v6?.prefix ?? 0,
    MacAddress: running ? ep.mac : '', DriverOpts: null,
  };
}

/** docker's NetworkSettings: bridge networks' endpoints, or the `none`/`host` network, or nothing (another container's). */
export function networkSettings(ctx: ContainerContext, l: Loaded): Record<string, unknown> {
  const { rec, hostConfig } = l;
  const mode = hostConfig.NetworkMode ?? '';
  const running = rec.state.Running;
  const endpoint = (name: string): Record<string, unknown> => ({
    IPAMConfig: null, Links: null, Aliases: null, NetworkID: ctx.net.lookup(name)?.id ?? '',
    EndpointID: running ? createHash('sha256').update(`${rec.id}/${name}/${rec.state.StartedAt}`).digest('hex') : '',
    Gateway: '', IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, MacAddress: '', DriverOpts: null,
  });
  const eps = rec.endpoints ?? [];
  const networks: Record<string, unknown> = {};
  for (const ep of eps) networks[ep.networkName] = bridgeEndpoint(rec, ep);
  const special = mode === 'host' ? 'host' : mode === 'none' ? 'none' : undefined;
  if (special) networks[special] = endpoint(special);
  // docker's top-level fields are the default bridge's endpoint
  const def = (eps.find((e) => e.networkName === 'bridge') && networks.bridge) as Record<string, unknown> | undefined;
  const exposed = Object.keys(rec.config.ExposedPorts ?? {});
  return {
    Bridge: '', SandboxID: running && rec.sandboxKey ? createHash('sha256').update(rec.sandboxKey + rec.state.StartedAt).digest('hex') : '',
    HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0,
    Ports: running && eps.length > 0 ? ctx.net.portsOf({ id: rec.id, exposed }) : {},
    SandboxKey: running ? rec.sandboxKey ?? (special === 'none' ? `/proc/${rec.state.Pid}/ns/net` : '') : '',
    SecondaryIPAddresses: null, SecondaryIPv6Addresses: null,
    EndpointID: (def?.EndpointID as string) ?? '', Gateway: (def?.Gateway as string) ?? '',
    GlobalIPv6Address: (def?.GlobalIPv6Address as string) ?? '', GlobalIPv6PrefixLen: (def?.GlobalIPv6PrefixLen as number) ?? 0,
    IPAddress: (def?.IPAddress as string) ?? '', IPPrefixLen: (def?.IPPrefixLen as number) ?? 0, IPv6Gateway: (def?.IPv6Gateway as string) ?? '',
    MacAddress: (def?.MacAddress as string) ?? '',
    Networks: networks,
  };
}

/** What `docker ps` shows of the networks (its NETWORKS column, `{{.Networks}}`). */
export function listNetworks(ctx: ContainerContext, l: Loaded): Record<string, unknown> {
  return (networkSettings(ctx, l).Networks as Record<string, unknown>);
}

/** docker ps's Ports: each published port (both address families of an every-address one), and exposed ones unpublished. */
export function listPorts(ctx: ContainerContext, l: Loaded): Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }> {
  const out: Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }> = [];
  const exposed = Object.keys(l.rec.config.ExposedPorts ?? {});
  const map = l.rec.state.Running && (l.rec.endpoints ?? []).length > 0 ? ctx.net.portsOf({ id: l.rec.id, exposed }) : Object.fromEntries(exposed.map((k) => [k, null]));
  for (const [key, binds] of Object.entries(map)) {
    const [port, type] = key.split('/');
    if (!binds || binds.length === 0) out.push({ PrivatePort: Number(port), Type: type ?? 'tcp' });
    else for (const b of binds) out.push({ IP: b.HostIp, PrivatePort: Number(port), PublicPort: Number(b.HostPort), Type: type ?? 'tcp' });
  }
  return out;
}
