/**
 * IPv4 and IPv6 addresses and prefixes as bigints, so that both families share one arithmetic
 * (an IPv6 /64 has more addresses than a number can count).
 */

export type Family = 4 | 6;

export interface Ip {
  family: Family;
  value: bigint;
}

export interface Cidr {
  family: Family;
  /** the network address: `ip` with the host bits cleared */
  base: bigint;
  prefix: number;
  /** the address as written (172.18.0.1/16 keeps .1 here), for gateways given in CIDR form */
  ip: bigint;
}

export function bits(family: Family): number {
  return family === 4 ? 32 : 128;
}

function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    // leading zeros are refused as Go's net.ParseIP does: 010 means 8 to some parsers and 10 to others
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseV6(s: string): bigint | undefined {
  if (s.length > 45 || s.length < 2) return undefined;
  let text = s;
  // an embedded IPv4 address in the last 32 bits (::ffff:1.2.3.4) is rewritten as its two groups
  const lastColon = text.lastIndexOf(':');
  if (lastColon < 0) return undefined;
  if (text.indexOf('.', lastColon) >= 0) {
    const v4 = parseV4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const group = (h: string): bigint[] | undefined => {
    if (h === '') return [];
    const out: bigint[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(BigInt('0x' + g));
    }
    return out;
  };
  const head = group(halves[0]!);
  if (!head) return undefined;
  let groups: bigint[];
  if (halves.length === 2) {
    const rest = group(halves[1]!);
    if (!rest) return undefined;
    const known = head.length + rest.length;
    if (known > 7) return undefined;
    groups = [...head, ...new Array<bigint>(8 - known).fill(0n), ...rest];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return undefined;
  return groups.reduce((v, g) => (v << 16n) | g, 0n);
}

/** An address in dotted-quad or RFC 4291 text; undefined for anything else (zones, prefixes, blanks). */
export function parseIp(s: string): Ip | undefined {
  if (typeof s !== 'string') return undefined;
  if (s.includes(':')) {
    const value = parseV6(s);
    return value === undefined ? undefined : { family: 6, value };
  }
  const value = parseV4(s);
  return value === undefined ? undefined : { family: 4, value };
}

/** Dotted quad, or RFC 5952's canonical IPv6 text (lowercase, shortest, the longest zero run as ::). */
export function formatIp(ip: Ip): string {
  if (ip.family === 4) {
    const v = ip.value;
    return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((ip.value >> BigInt(i * 16)) & 0xffffn));
  // IPv4-mapped addresses keep their dotted tail (RFC 5952 section 5)
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return '::ffff:' + formatIp({ family: 4, value: ip.value & 0xffffffffn });
  }
  let bestAt = -1;
  let bestLen = 1; // a single zero group is never shortened
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestAt < 0) return hex(groups);
  return hex(groups.slice(0, bestAt)) + '::' + hex(groups.slice(bestAt + bestLen));
}

function mask(family: Family, prefix: number): bigint {
  const b = BigInt(bits(family));
  return ((1n << b) - 1n) ^ ((1n << (b - BigInt(prefix))) - 1n);
}

/** "addr/prefix"; the network address is computed (host bits cleared), the written address kept in `ip`. */
export function parseCidr(s: string): Cidr | undefined {
  if (typeof s !== 'string') return undefined;
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(s.slice(0, slash));
  const p = s.slice(slash + 1);
  // the length may have leading zeros (Go's ParseCIDR reads it with dtoi: dockerd takes /016 as /16)
  if (!ip || !/^[0-9]{1,3}$/.test(p)) return undefined;
  const prefix = Number(p);
  if (prefix > bits(ip.family)) return undefined;
  return { family: ip.family, base: ip.value & mask(ip.family, prefix), prefix, ip: ip.value };
}

/** A CIDR made from a network address and a prefix length. */
export function cidrOf(family: Family, base: bigint, prefix: number): Cidr {
  const b = base & mask(family, prefix);
  return { family, base: b, prefix, ip: b };
}

export function formatCidr(c: Cidr, withIp = false): string {
  return `${formatIp({ family: c.family, value: withIp ? c.ip : c.base })}/${c.prefix}`;
}

export function size(c: Cidr): bigint {
  return 1n << BigInt(bits(c.family) - c.prefix);
}

export function contains(c: Cidr, ip: Ip): boolean {
  return c.family === ip.family && (ip.value & mask(c.family, c.prefix)) === c.base;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const p = Math.min(a.prefix, b.prefix);
  const m = mask(a.family, p);
  return (a.base & m) === (b.base & m);
}

/** The n-th address of the prefix (0 is the network address); a RangeError past its end. */
export function nthAddress(c: Cidr, n: bigint): Ip {
  if (n < 0n || n >= size(c)) throw new RangeError(`address ${n} is outside ${formatCidr(c)} (${size(c)} addresses)`);
  return { family: c.family, value: c.base + n };
}

/** The last address of the prefix (IPv4's broadcast address). */
export function lastAddress(c: Cidr): Ip {
  return { family: c.family, value: c.base + size(c) - 1n };
}
