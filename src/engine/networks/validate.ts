/**
 * A create request judged as dockerd 20.10 judges it (daemon/network.go createNetwork, libnetwork's
 * NewNetwork, the bridge driver's option parsing and conflict check, the default IPAM's pool
 * checks), in dockerd's words and order. What comes out is a record without its IPAM config and
 * the pools to ask the plumbing for. Statuses follow dockerd's error kinds, except where dockerd
 * answers a bad request with a bare error (a 500): those are 400 here.
 */
import { ConflictError, ForbiddenError, InvalidParameterError, NotFoundError, SystemError } from '../errors.ts';
import { contains, formatCidr, formatIp, lastAddress, overlaps, parseCidr, parseIp, type Cidr } from '../../network/cidr.ts';
import type { NetworkCreateRequest, NetworkRecord, PoolRequest, PoolsRequest } from './types.ts';

/** runconfig.IsPreDefinedNetwork */
export const PREDEFINED = new Set(['bridge', 'host', 'none', 'default']);

export const OPT = {
  bridgeName: 'com.docker.network.bridge.name',
  defaultBridge: 'com.docker.network.bridge.default_bridge',
  enableIcc: 'com.docker.network.bridge.enable_icc',
  enableMasquerade: 'com.docker.network.bridge.enable_ip_masquerade',
  hostBindingIpv4: 'com.docker.network.bridge.host_binding_ipv4',
  inhibitIpv4: 'com.docker.network.bridge.inhibit_ipv4',
  mtu: 'com.docker.network.driver.mtu',
  enableIpv6: 'com.docker.network.enable_ipv6',
} as const;

/** Go's strconv.ParseBool */
const BOOLS: Record<string, boolean> = { 1: true, t: true, T: true, TRUE: true, true: true, True: true, 0: false, f: false, F: false, FALSE: false, false: false, False: false };

export function predefinedError(name: string): ForbiddenError {
  // sic: dockerd's PredefinedNetworkError ends with a space
  return new ForbiddenError(`operation is not permitted on predefined ${name} network `);
}

export function nameConflict(name: string): ConflictError {
  return new ConflictError(`network with name ${name} already exists`);
}

/** the bridge driver's parseErr */
function parseErr(label: string, value: string, why: string): InvalidParameterError {
  return new InvalidParameterError(`failed to parse ${label} value: ${value} (${why})`);
}

/** A Linux interface name the kernel takes (dev_valid_name): 1-15 bytes, no '/', ':' or space, not . or .. */
export function checkBridgeName(name: string): void {
  const why = name === '' ? 'it is empty'
    : Buffer.byteLength(name) > 15 ? 'longer than 15 bytes'
      : name === '.' || name === '..' ? 'not a name'
        : /[/:\s]/.test(name) ? "it has a '/', ':' or white space" : undefined;
  if (why) throw new InvalidParameterError(`invalid bridge name ${JSON.stringify(name)} (${OPT.bridgeName}): ${why}`);
}

/** The bridge driver's option parsing (fromLabels): every value it reads must parse. */
function checkBridgeOptions(opts: Record<string, string>): void {
  for (const [k, v] of Object.entries(opts)) {
    switch (k) {
      case OPT.mtu: {
        if (!/^[+-]?\d+$/.test(v)) throw parseErr(k, v, `strconv.Atoi: parsing ${JSON.stringify(v)}: invalid syntax`);
        if (Number(v) < 0) throw new InvalidParameterError(`invalid MTU number: ${Number(v)}`);
        break;
      }
      case OPT.enableIcc: case OPT.enableMasquerade: case OPT.inhibitIpv4: case OPT.defaultBridge: case OPT.enableIpv6:
        if (!(v in BOOLS)) throw parseErr(k, v, `strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`);
        break;
      case OPT.hostBindingIpv4:
        if (!parseIp(v)) throw parseErr(k, v, 'nil ip');
        break;
      case OPT.bridgeName:
        checkBridgeName(v);
        break;
      default:
    }
  }
}

/** The driver: dockerd's answer for each one berth does not have. */
function checkDriver(driver: string): void {
  switch (driver) {
    case 'bridge': return;
    case 'host': case 'null': throw new ForbiddenError(`only one instance of "${driver}" network is allowed`);
    // berth has no swarm, which is what dockerd says of an overlay network outside one
    case 'overlay': throw new SystemError('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.');
    case 'macvlan': case 'ipvlan': throw new InvalidParameterError(`network driver "${driver}" is not supported by berth: only bridge networks can be created`);
    default: throw new NotFoundError(`plugin ${JSON.stringify(driver)} not found`);
  }
}

interface ParsedPool {
  subnet: Cidr;
  req: PoolRequest;
}

/** One IPAM.Config entry checked as the default IPAM checks it. */
function checkPool(c: NonNullable<NetworkCreateRequest['IPAM']>['Config'][number], name: string): ParsedPool {
  const subnetText = c.Subnet ?? '';
  const subnet = parseCidr(subnetText);
  if (!subnet) throw new InvalidParameterError(`Invalid subnet ${subnetText} : invalid CIDR address: ${subnetText}`);
  const req: PoolRequest = { subnet: formatCidr(subnet) };
  if (c.Gateway !== undefined) {
    const gw = parseIp(c.Gateway);
    if (!gw) throw new InvalidParameterError(`invalid gateway address ${c.Gateway} in Ipam configuration`);
    if (gw.family !== subnet.family || !contains(subnet, gw)) throw new InvalidParameterError(`failed to allocate gateway (${c.Gateway}): Requested address is out of range`);
    // IPv4's network and broadcast addresses are never handed out
    if (subnet.family === 4 && subnet.prefix < 31 && (gw.value === subnet.base || gw.value === lastAddress(subnet).value)) {
      throw new ForbiddenError(`failed to allocate gateway (${c.Gateway}): Address already in use`);
    }
    req.gateway = formatIp(gw);
  }
  if (c.IPRange !== undefined) {
    const range = parseCidr(c.IPRange);
    if (!range) {
      throw new InvalidParameterError(`failed to parse pool request for address space "LocalDefault" pool "${subnetText}" subpool "${c.IPRange}": Invalid Address SubPool`);
    }
    if (range.family !== subnet.family || range.prefix < subnet.prefix || !contains(subnet, { family: range.family, value: range.base })) {
      throw new InvalidParameterError(`invalid ip range ${c.IPRange}: not within subnet ${subnetText}`);
    }
    req.ipRange = formatCidr(range);
  }
  if (c.AuxiliaryAddresses) {
    for (const [k, v] of Object.entries(c.AuxiliaryAddresses)) {
      const a = parseIp(v);
      if (!a) throw new InvalidParameterError(`non parsable secondary ip address (${k}:${v}) passed for network ${name}`);
      if (!contains(subnet, a)) throw new ForbiddenError(`auxiliary address: (${k}:${v}) must belong to the master pool: ${formatCidr(subnet)}`);
    }
    req.auxAddresses = { ...c.AuxiliaryAddresses };
  }
  return { subnet, req };
}

export interface CreatePlan {
  /** the record, but for `ipam` (the plumbing's choice) */
  rec: NetworkRecord;
  pools: PoolsRequest;
}

/** The subnets a network's record holds. */
export function subnetsOf(rec: NetworkRecord): Cidr[] {
  return rec.ipam.flatMap((c) => {
    const s = c.Subnet !== undefined ? parseCidr(c.Subnet) : undefined;
    return s ? [s] : [];
  });
}

/**
 * Judges `req` against the networks there are (`others`); the name-duplicate check (which
 * depends on CheckDuplicate) is the caller's.
 */
export function planCreate(req: NetworkCreateRequest, id: string, created: string, others: readonly NetworkRecord[]): CreatePlan {
  if (PREDEFINED.has(req.Name)) throw predefinedError(req.Name);
  const v4: ParsedPool[] = [];
  const v6: ParsedPool[] = [];
  for (const c of req.IPAM?.Config ?? []) {
    const p = checkPool(c, req.Name);
    (p.subnet.family === 4 ? v4 : v6).push(p);
  }
  // libnetwork's config.IsValidName
  if (req.Name.trim() === '') throw new InvalidParameterError(`invalid name: ${req.Name}`);
  if (req.ConfigOnly || (req.ConfigFrom && req.ConfigFrom.Network !== '')) {
    throw new InvalidParameterError('configuration networks (ConfigOnly, ConfigFrom) are not supported by berth');
  }
  const driver = req.Driver === '' ? 'bridge' : req.Driver;
  checkDriver(driver);
  if (req.Scope === 'swarm') throw new ForbiddenError('cannot create a swarm scoped network when swarm is not active');
  if (req.Scope !== '' && req.Scope !== 'local') throw new InvalidParameterError(`invalid scope ${JSON.stringify(req.Scope)}: berth's networks are local`);
  if (req.Ingress) throw new ForbiddenError('Ingress network can only be global scope network');
  const ipamDriver = req.IPAM?.Driver ?? '';
  if (ipamDriver !== '' && ipamDriver !== 'default') throw new NotFoundError(`plugin ${JSON.stringify(ipamDriver)} not found`);
  if (v4.length > 1 || v6.length > 1) throw new ForbiddenError("bridge driver doesn't support multiple subnets");
  if (req.EnableIPv6 && v6.length === 0) {
    throw new NotFoundError('could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network');
  }
  // the default IPAM keeps one address space: a pool may not overlap any other network's
  for (const p of [...v4, ...(req.EnableIPv6 ? v6 : [])]) {
    if (others.some((o) => subnetsOf(o).some((s) => overlaps(s, p.subnet)))) throw new ForbiddenError('Pool overlaps with other one on this address space');
  }
  checkBridgeOptions(req.Options);
  const bridge = req.Options[OPT.bridgeName] ?? `br-${id.slice(0, 12)}`;
  const clash = others.find((o) => o.bridge !== '' && o.bridge === bridge);
  if (clash) {
    throw new ForbiddenError(`cannot create network ${id} (${bridge}): conflicts with network ${clash.id} (${clash.bridge}): networks have same bridge name`);
  }
  const rec: NetworkRecord = {
    schemaVersion: 1, id, name: req.Name, driver: 'bridge', created, builtin: false, bridge,
    internal: req.Internal, attachable: req.Attachable, enableIPv6: req.EnableIPv6,
    ipamOptions: req.IPAM?.Options ?? null, ipam: [], options: { ...req.Options }, labels: { ...req.Labels },
  };
  const pools: PoolsRequest = { v4: v4[0]?.req ?? {} };
  // as dockerd, an IPv6 pool is allocated only for EnableIPv6 (otherwise it is ignored)
  if (req.EnableIPv6) pools.v6 = v6[0]!.req;
  return { rec, pools };
}
