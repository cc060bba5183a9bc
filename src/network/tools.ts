/**
 * The host tools the network layer drives, and one way to run them: through runCommand (the
 * daemon's zygote, so berthd never forks), with a failure becoming a NetworkError that names the
 * step and carries the tool's own words.
 */
import { isIP } from 'node:net';

import { runCommand, type CommandResult } from '../native/command.ts';
import { NetworkError } from './errors.ts';

export const IP = '/usr/sbin/ip';
export const NFT = '/usr/sbin/nft';
export const UNSHARE = '/usr/bin/unshare';
export const NSENTER = '/usr/bin/nsenter';
export const UMOUNT = '/usr/bin/umount';

/** Runs argv; resolves with its result whatever its exit code, rejects only if it cannot run. */
export async function run(what: string, argv: string[], input?: string): Promise<CommandResult> {
  try {
    return await runCommand(argv, input);
  } catch (e) {
    throw new NetworkError('system', `${what}: ${(e as Error).message}`, { cause: e });
  }
}

/** The tool's output on one line, for an error message. */
export function words(r: CommandResult): string {
  return r.output.trim().replace(/\s*\n\s*/g, '; ') || `exited ${r.signal ?? r.code}`;
}

/** Runs argv and rejects, naming `what` and the tool's words, unless it exits 0. */
export async function runOk(what: string, argv: string[], input?: string): Promise<string> {
  const r = await run(what, argv, input);
  if (r.code !== 0) throw new NetworkError('system', `${what}: ${argv[0]!.split('/').pop()}: ${words(r)}`);
  return r.output;
}

// Names and addresses end up in `ip -batch` lines and nft text: anything but a plain token could
// smuggle another command in, so they are checked before they are written anywhere.

/** A Linux interface name: 1-15 bytes, none of '/', ':', whitespace or quotes. */
export function checkIfname(name: string, where: string): void {
  if (!/^[A-Za-z0-9_.@+-]{1,15}$/.test(name) || name === '.' || name === '..') {
    throw new NetworkError('invalid', `${where}: invalid interface name ${JSON.stringify(name)}: 1 to 15 letters, digits or ._-@+`);
  }
}

export interface Cidr { addr: string; prefix: number; family: 4 | 6 }

/** "10.0.0.1/24" or "fd00::1/64", checked. */
export function parseCidr(cidr: string, where: string): Cidr {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(cidr);
  const fam = m ? isIP(m[1]!) : 0;
  if (!m || !fam || Number(m[2]) > (fam === 4 ? 32 : 128)) {
    throw new NetworkError('invalid', `${where}: invalid CIDR address ${JSON.stringify(cidr)}`);
  }
  return { addr: m[1]!, prefix: Number(m[2]), family: fam as 4 | 6 };
}

/** An IP address (no prefix), checked; its family. */
export function checkIp(ip: string, where: string): 4 | 6 {
  const fam = isIP(ip);
  if (!fam) throw new NetworkError('invalid', `${where}: invalid IP address ${JSON.stringify(ip)}`);
  return fam as 4 | 6;
}

/** 16 bytes (IPv6) or 4 (IPv4) of an address isIP accepts. */
export function ipBytes(ip: string): number[] {
  if (isIP(ip) === 4) return ip.split('.').map(Number);
  let s = ip;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    s = `${s.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = s.includes('::') ? s.split('::') as [string, string] : [s, undefined];
  const h = head ? head.split(':').map((x) => parseInt(x, 16)) : [];
  const r = rest ? rest.split(':').map((x) => parseInt(x, 16)) : [];
  const groups = rest === undefined ? h : [...h, ...new Array<number>(8 - h.length - r.length).fill(0), ...r];
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

/** The text form of bytes from ipBytes: dotted quad, or RFC 5952's compressed IPv6. */
export function ipText(bytes: number[]): string {
  if (bytes.length === 4) return bytes.join('.');
  const hex = [];
  for (let i = 0; i < 16; i += 2) hex.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return new URL(`http://[${hex.join(':')}]`).hostname.slice(1, -1);
}

/** The network of a CIDR, host bits cleared: "10.0.0.1/24" -> "10.0.0.0/24". */
export function networkOf(c: Cidr): string {
  const b = ipBytes(c.addr);
  for (let i = 0; i < b.length; i++) {
    const keep = Math.max(0, Math.min(8, c.prefix - i * 8));
    b[i] = b[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return `${ipText(b)}/${c.prefix}`;
}

/** One spelling per address, so that addresses compare as text. */
export function canonicalIp(ip: string): string {
  return ipText(ipBytes(ip));
}
