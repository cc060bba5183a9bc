/**
 * The host's own routes, which a network berth picks a subnet for must not collide with (docker
 * checks the same before taking a default pool). Read from /proc (no exec); the default routes
 * and the routes of berth's own bridges are not collisions.
 */
import { readFile } from 'node:fs/promises';

import { cidrOf, formatCidr } from '../../network/cidr.ts';

/** CIDRs of the host's routes, IPv4 and IPv6, except default routes and those on `ownLinks`. */
export async function hostRoutes(ownLinks: (name: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  const v4 = await readFile('/proc/net/route', 'utf8').catch(() => '');
  for (const line of v4.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || ownLinks(f[0]!)) continue;
    const dest = leHex(f[1]!);
    const mask = leHex(f[7]!);
    if (dest === undefined || mask === undefined || mask === 0) continue;
    out.push(formatCidr(cidrOf(4, BigInt(dest), 32 - zeroBits(mask))));
  }
  const v6 = await readFile('/proc/net/ipv6_route', 'utf8').catch(() => '');
  for (const line of v6.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || ownLinks(f[9]!)) continue;
    const prefix = parseInt(f[1]!, 16);
    if (!/^[0-9a-f]{32}$/i.test(f[0]!) || !prefix || prefix > 128 || /^fe80/i.test(f[0]!) || /^ff/i.test(f[0]!)) continue;
    out.push(formatCidr(cidrOf(6, BigInt(`0x${f[0]}`), prefix)));
  }
  return out;
}

/** /proc/net/route's addresses are the kernel's bytes in host (little-endian) order. */
function leHex(h: string): number | undefined {
  if (!/^[0-9A-Fa-f]{8}$/.test(h)) return undefined;
  const n = parseInt(h, 16);
  return (((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | (n >>> 24)) >>> 0;
}

function zeroBits(mask: number): number {
  let n = 0;
  while (n < 32 && ((mask >>> n) & 1) === 0) n++;
  return n;
}
