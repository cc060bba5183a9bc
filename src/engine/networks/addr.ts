/**
 * The little address arithmetic the network records need to check a create request as dockerd
 * does (Go's net.ParseCIDR / net.ParseIP semantics): parse, contain, overlap, format. Addresses
 * are bigints so IPv4 and IPv6 share one code path. The data plane's IPAM has its own (layer 3,
 * src/network/cidr.ts); this one only judges requests and records.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type Family = 4 | 6;

export interface Addr {
  family: Family;
  value: bigint;
}

export interface Cidr {
  family: Family;
  /** the network address (host bits cleared) */
  base: bigint;
  prefix: number;
  /** the address as written, which may have host bits (`10.0.0.5/24`) */
  ip: bigint;
}

const bits = (f: Family): number => (f === 4 ? 32 : 128);

function v4ToBig(s: string): bigint {
  return s.split('.').reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n);
}

function v6ToBig(s: string): bigint {
  let text = s;
  // an embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups
  const dot = text.lastIndexOf(':');
  if (text.includes('.')) {
    const v4 = v4ToBig(text.slice(dot + 1));
    text = `${text.slice(0, dot + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** Go's net.ParseIP: an IPv4 or IPv6 address, or undefined. */
export function parseIp(s: string): Addr | undefined {
  if (isIPv4(s)) return { family: 4, value: v4ToBig(s) };
  if (isIPv6(s) && !s.includes('%')) return { family: 6, value: v6ToBig(s) };
  return undefined;
}

/** Go's net.ParseCIDR: `ADDR/PREFIX`, or undefined. */
export function parseCidr(s: string): Cidr | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const a = parseIp(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (!a || !/^\d{1,3}$/.test(p) || Number(p) > bits(a.family)) return undefined;
  const prefix = Number(p);
  return { family: a.family, base: a.value & mask(a.family, prefix), prefix, ip: a.value };
}

export function mask(f: Family, prefix: number): bigint {
  const all = (1n << BigInt(bits(f))) - 1n;
  return all ^ ((1n << BigInt(bits(f) - prefix)) - 1n);
}

export function lastOf(c: Cidr): bigint {
  return c.base | ((1n << BigInt(bits(c.family) - c.prefix)) - 1n);
}

export function contains(c: Cidr, a: Addr): boolean {
  return c.family === a.family && (a.value & mask(c.family, c.prefix)) === c.base;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.base <= lastOf(b) && b.base <= lastOf(a);
}

export function formatIp(family: Family, v: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => ((v >> BigInt(112 - 16 * i)) & 0xffffn).toString(16));
  // RFC 5952: the longest run (two or more) of zero groups becomes ::
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** The network in canonical form: `10.240.0.0/24`, `fd00:1::/64`. */
export function formatCidr(c: Cidr): string {
  return `${formatIp(c.family, c.base)}/${c.prefix}`;
}
