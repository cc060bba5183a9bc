/**
 * The network and port flags of `run` / `create` as docker 20.10's CLI turns them into the create
 * body (cli/command/container/opts.go: parse, parseNetworkOpts): HostConfig.NetworkMode,
 * PortBindings, PublishAllPorts; Config.ExposedPorts, MacAddress; NetworkingConfig.EndpointsConfig.
 * Only the checks docker's CLI makes are made here; the rest (an --ip outside the subnet, --ip on
 * the default bridge) is the daemon's to refuse.
 */
import { UsageError, bool, list, str, type FlagDef, type Parsed } from '../args.ts';
import { publishedPorts, type PortBinding } from './nat.ts';

export const NETWORK_FLAGS: FlagDef[] = [
  { names: ['publish', 'p'], kind: 'list' },
  { names: ['publish-all', 'P'], kind: 'bool' },
  { names: ['expose'], kind: 'list' },
  { names: ['network', 'net'], kind: 'list' },
  { names: ['network-alias', 'net-alias'], kind: 'list' },
  { names: ['ip'], kind: 'string' },
  { names: ['ip6'], kind: 'string' },
  { names: ['mac-address'], kind: 'string' },
  { names: ['link'], kind: 'list' },
];

interface Attachment {
  target: string;
  aliases: string[];
  ipv4?: string;
  ipv6?: string;
}

/** The API's EndpointSettings, as much of it as the CLI sets. */
export interface EndpointSettings {
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string };
  Aliases?: string[];
}

export interface NetworkRequest {
  config: { ExposedPorts?: Record<string, Record<string, never>>; MacAddress?: string };
  hostConfig: { NetworkMode?: string; PortBindings: Record<string, PortBinding[]>; PublishAllPorts: boolean };
  /** NetworkingConfig, only when an endpoint has settings of its own */
  networkingConfig?: { EndpointsConfig: Record<string, EndpointSettings> };
}

/** container.NetworkMode.IsUserDefined: what is not one of the built-in modes */
export function isUserDefined(mode: string): boolean {
  return !['default', 'bridge', 'host', 'none'].includes(mode) && !mode.startsWith('container:');
}

/**
 * opts.NetworkOpt.Set: a name, or docker's long form `name=NET,alias=A,ip=X,ip6=Y` (keys and
 * values lower-cased, as docker does).
 */
export function parseNetworkFlag(value: string): Attachment {
  if (!/\w+=\w+(,\w+=\w+)*/.test(value)) return { target: value, aliases: [] };
  const a: Attachment = { target: '', aliases: [] };
  for (const field of value.split(',')) {
    const eq = field.indexOf('=');
    if (eq < 0) throw new UsageError(`invalid argument "${value}" for "--network" flag: invalid field ${field}`);
    const key = field.slice(0, eq).trim().toLowerCase();
    const v = field.slice(eq + 1).trim().toLowerCase();
    switch (key) {
      case 'name': a.target = v; break;
      case 'alias': a.aliases.push(v); break;
      case 'ip': a.ipv4 = v; break;
      case 'ip6': a.ipv6 = v; break;
      default: throw new UsageError(`invalid argument "${value}" for "--network" flag: invalid field key ${key}`);
    }
  }
  if (a.target === '') throw new UsageError(`invalid argument "${value}" for "--network" flag: network name/id is not specified`);
  return a;
}

/** net.ParseMAC's formats: 6, 8 or 20 octets, `:` or `-` between them, or dotted groups of four digits */
function isMac(s: string): boolean {
  const octets = (sep: string): boolean => [6, 8, 20].some((n) => new RegExp(`^[0-9a-fA-F]{2}(${sep}[0-9a-fA-F]{2}){${n - 1}}$`).test(s));
  return octets(':') || octets('-') || [3, 4, 10].some((n) => new RegExp(`^[0-9a-fA-F]{4}(\\.[0-9a-fA-F]{4}){${n - 1}}$`).test(s));
}

/** The first network takes --ip, --ip6 and --network-alias (docker's applyContainerOptions). */
function applyContainerOptions(a: Attachment, p: Parsed): void {
  const aliases = list(p, 'network-alias');
  const ipv4 = str(p, 'ip') ?? '';
  const ipv6 = str(p, 'ip6') ?? '';
  if (a.aliases.length > 0 && aliases.length > 0) throw new UsageError('conflicting options: cannot specify both --network-alias and per-network alias');
  if (a.ipv4 && ipv4 !== '') throw new UsageError('conflicting options: cannot specify both --ip and per-network IPv4 address');
  if (a.ipv6 && ipv6 !== '') throw new UsageError('conflicting options: cannot specify both --ip6 and per-network IPv6 address');
  if (aliases.length > 0) a.aliases = [...aliases];
  if (ipv4 !== '') a.ipv4 = ipv4;
  if (ipv6 !== '') a.ipv6 = ipv6;
}

function endpointOf(a: Attachment): EndpointSettings {
  if (a.target.trim() === '') throw new UsageError('no name set for network');
  if (!isUserDefined(a.target) && a.aliases.length > 0) throw new UsageError('network-scoped aliases are only supported for user-defined networks');
  return {
    ...(a.aliases.length > 0 && { Aliases: a.aliases }),
    ...((a.ipv4 || a.ipv6) && { IPAMConfig: { ...(a.ipv4 && { IPv4Address: a.ipv4 }), ...(a.ipv6 && { IPv6Address: a.ipv6 }) } }),
  };
}

/** docker's parseNetworkOpts: one endpoint per --network; a lone one without settings is left to the daemon. */
function endpoints(attachments: Attachment[], p: Parsed): Record<string, EndpointSettings> {
  const out: Record<string, EndpointSettings> = {};
  let user = false;
  let builtin = false;
  attachments.forEach((a, i) => {
    if (isUserDefined(a.target)) user = true;
    else builtin = true;
    if (i === 0) applyContainerOptions(a, p);
    const ep = endpointOf(a);
    if (a.target in out) throw new UsageError(`network ${JSON.stringify(a.target)} is specified multiple times`);
    if (i === 0 && attachments.length === 1 && Object.keys(ep).length === 0) return;
    out[a.target] = ep;
  });
  if (user && builtin) throw new UsageError('conflicting options: cannot attach both user-defined and non-user-defined network-modes');
  return out;
}

/** The network part of a create body from `run` / `create` flags. */
export function networkRequest(p: Parsed): NetworkRequest {
  if (list(p, 'link').length > 0) {
    throw new UsageError('--link is not supported by berth: put the containers on a network of their own (berth network create NET; --network NET) and they reach each other by name');
  }
  const mac = str(p, 'mac-address');
  if (mac !== undefined && mac !== '' && !isMac(mac.trim())) throw new UsageError(`${mac} is not a valid mac address`);
  let ports: ReturnType<typeof publishedPorts>;
  try {
    ports = publishedPorts(list(p, 'publish'), list(p, 'expose'));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const attachments = list(p, 'network').map(parseNetworkFlag);
  const eps = endpoints(attachments, p);
  return {
    config: {
      ...(Object.keys(ports.exposed).length > 0 && { ExposedPorts: ports.exposed }),
      ...(mac !== undefined && mac !== '' && { MacAddress: mac }),
    },
    hostConfig: {
      // no --network: the daemon's default (the bridge), as docker's "default" is
      ...(attachments.length > 0 && { NetworkMode: attachments[0]!.target }),
      PortBindings: ports.bindings,
      PublishAllPorts: bool(p, 'publish-all'),
    },
    ...(Object.keys(eps).length > 0 && { networkingConfig: { EndpointsConfig: eps } }),
  };
}
