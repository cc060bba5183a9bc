/**
 * `network create`'s --subnet, --ip-range, --gateway and --aux-address grouped into the API's
 * IPAM.Config as docker 20.10's CLI does (cli/command/network/create.go consolidateIpam): each
 * range, gateway and aux address goes with the subnet that contains it, whatever the order of
 * the flags. Only containment is judged here; the daemon checks the rest (overlaps with other
 * networks, a gateway that is the subnet's own address).
 */
import { isIPv4 } from 'node:net';
import { isGoIP } from './nat.ts';

export interface IpamConfig {
  Subnet: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

interface Addr {
  v6: boolean;
  n: bigint;
}

/** The eight 16-bit groups of a valid IPv6 text (a dotted IPv4 tail becomes the last two). */
function ipv6Groups(s: string): number[] {
  const colon = s.lastIndexOf(':');
  let text = s;
  if (s.includes('.')) {
    const b = s.slice(colon + 1).split('.').map(Number);
    text = `${s.slice(0, colon + 1)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  const part = (h: string): number[] => (h === '' ? [] : h.split(':').map((g) => parseInt(g, 16)));
  const head = part(halves[0]!);
  const rest = halves.length > 1 ? part(halves[1]!) : [];
  return [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
}

/** Go's net.ParseIP as a number; undefined for what it refuses */
function parseIP(s: string): Addr | undefined {
  if (!isGoIP(s)) return undefined;
  if (isIPv4(s)) return { v6: false, n: s.split('.').reduce((acc, b) => (acc << 8n) | BigInt(b), 0n) };
  const n = ipv6Groups(s).reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
  // an IPv4-mapped address is IPv4 to Go's IPNet.Contains
  if (n >> 32n === 0xffffn) return { v6: false, n: n & 0xffffffffn };
  return { v6: true, n };
}

/** Go's net.ParseCIDR: the address and the network it names */
function parseCIDR(s: string): { ip: Addr; net: Addr; bits: number } {
  const slash = s.indexOf('/');
  const ip = slash < 0 ? undefined : parseIP(s.slice(0, slash));
  const len = s.slice(slash + 1);
  const max = ip?.v6 ? 128 : 32;
  if (!ip || !/^[0-9]{1,3}$/.test(len) || Number(len) > max) throw new Error(`invalid CIDR address: ${s}`);
  const bits = Number(len);
  const host = BigInt(max - bits);
  return { ip, net: { v6: ip.v6, n: (ip.n >> host) << host }, bits };
}

/** docker's subnetMatches: does `subnet` contain the address (or CIDR's address) `data`? */
function subnetMatches(subnet: string, data: string): boolean {
  let s: ReturnType<typeof parseCIDR>;
  try {
    s = parseCIDR(subnet);
  } catch (e) {
    throw new Error(`invalid subnet: ${(e as Error).message}`);
  }
  const ip = data.includes('/') ? parseCIDR(data).ip : parseIP(data);
  if (!ip || ip.v6 !== s.net.v6) return false;
  const host = BigInt((s.net.v6 ? 128 : 32) - s.bits);
  return ip.n >> host === s.net.n >> host;
}

/** docker's consolidateIpam, with its messages; subnets keep the order they were given in. */
export function consolidateIpam(subnets: readonly string[], ranges: readonly string[], gateways: readonly string[], aux: Record<string, string>): IpamConfig[] {
  if (subnets.length < ranges.length || subnets.length < gateways.length) throw new Error('every ip-range or gateway must have a corresponding subnet');
  const data = new Map<string, IpamConfig & { AuxiliaryAddresses: Record<string, string> }>();
  for (const s of subnets) {
    for (const k of data.keys()) {
      if (subnetMatches(s, k) || subnetMatches(k, s)) throw new Error('multiple overlapping subnet configuration is not supported');
    }
    data.set(s, { Subnet: s, AuxiliaryAddresses: {} });
  }
  const place = (what: 'range' | 'gateway', value: string, field: 'IPRange' | 'Gateway'): void => {
    let match = false;
    for (const s of subnets) {
      if (!subnetMatches(s, value)) continue;
      const d = data.get(s)!;
      const had = d[field];
      if (had !== undefined) {
        throw new Error(what === 'range' ? `cannot configure multiple ranges (${value}, ${had}) on the same subnet (${s})` : `cannot configure multiple gateways (${value}, ${had}) for the same subnet (${s})`);
      }
      d[field] = value;
      match = true;
    }
    if (!match) throw new Error(`no matching subnet for ${what} ${value}`);
  };
  for (const r of ranges) place('range', r, 'IPRange');
  for (const g of gateways) place('gateway', g, 'Gateway');
  for (const [key, a] of Object.entries(aux)) {
    let match = false;
    for (const s of subnets) {
      if (!subnetMatches(s, a)) continue;
      data.get(s)!.AuxiliaryAddresses[key] = a;
      match = true;
    }
    if (!match) throw new Error(`no matching subnet for aux-address ${a}`);
  }
  // Go leaves an empty AuxiliaryAddresses out of the JSON (omitempty)
  return [...data.values()].map(({ AuxiliaryAddresses, ...c }) => ({ ...c, ...(Object.keys(AuxiliaryAddresses).length > 0 && { AuxiliaryAddresses }) }));
}
