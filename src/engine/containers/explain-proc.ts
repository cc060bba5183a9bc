/**
 * Readers of what the kernel says about a process and the host's mounts, for explain: each
 * returns null (or an empty list) when the thing is not there any more, never throws for that.
 */
import { readFile, readlink } from 'node:fs/promises';

import { CAPABILITIES } from '../../runtime/caps.ts';

export async function readOr(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

/** The inode of a namespace link (`net:[4026531840]`), or null. */
export async function nsInode(path: string): Promise<number | null> {
  try {
    const m = /\[(\d+)\]$/.exec(await readlink(path));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** /proc/PID/status as key -> value. */
export async function procStatus(pid: number): Promise<Map<string, string> | null> {
  const text = await readOr(`/proc/${pid}/status`);
  if (text === null) return null;
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return out;
}

/** A capability mask as the trace records it (decimal, or anything BigInt takes) as names, lowest bit first. */
export function capNames(mask: string | bigint): string[] {
  let m: bigint;
  try {
    m = typeof mask === 'bigint' ? mask : BigInt(mask);
  } catch {
    return [];
  }
  return [...CAPABILITIES].filter(([, n]) => (m >> BigInt(n)) & 1n).map(([name]) => name);
}

/** A /proc status capability field: always hex there, even when it has only decimal digits. */
export function statusCaps(hex: string | undefined): string[] {
  return hex === undefined ? [] : capNames(BigInt(`0x${hex}`));
}

export interface MountInfoLine {
  mountId: number;
  mountPoint: string;
  mountOptions: string;
  fstype: string;
  source: string;
  superOptions: string;
}

const unescapeOctal = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function parseMountInfo(text: string): MountInfoLine[] {
  const out: MountInfoLine[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    out.push({
      mountId: Number(pre[0]), mountPoint: unescapeOctal(pre[4] ?? ''), mountOptions: pre[5] ?? '',
      fstype: post[0] ?? '', source: unescapeOctal(post[1] ?? ''), superOptions: unescapeOctal(post[2] ?? ''),
    });
  }
  return out;
}

/** Splits on `sep` not escaped by a backslash (overlayfs escapes `,` and `:` in its paths), unescaping. */
function splitEscaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) cur += s[++i];
    else if (c === sep) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

const unescapeBackslash = (s: string): string => s.replace(/\\(.)/g, '$1');

/**
 * An overlay's lower, upper and work dirs from its superblock options. The kernel shows the
 * lower layers either as one `lowerdir=top:…:bottom` or, for a mount made with fsconfig's
 * `lowerdir+`, as one `lowerdir+=DIR` per layer (top first too): both are read. Lowers are
 * returned bottom first, the image's order.
 */
export function overlayDirs(superOptions: string): { lowers: string[]; upper: string | null; work: string | null } {
  const lowersTopFirst: string[] = [];
  let upper: string | null = null;
  let work: string | null = null;
  const rawOpts: string[] = [];
  // split on unescaped commas, keeping the escapes for the ':' split of lowerdir=
  let cur = '';
  for (let i = 0; i < superOptions.length; i++) {
    const c = superOptions[i]!;
    if (c === '\\' && i + 1 < superOptions.length) cur += c + superOptions[++i];
    else if (c === ',') {
      rawOpts.push(cur);
      cur = '';
    } else cur += c;
  }
  rawOpts.push(cur);
  for (const o of rawOpts) {
    if (o.startsWith('lowerdir+=')) lowersTopFirst.push(unescapeBackslash(o.slice(10)));
    else if (o.startsWith('lowerdir=')) lowersTopFirst.push(...splitEscaped(o.slice(9), ':').filter(Boolean));
    else if (o.startsWith('upperdir=')) upper = unescapeBackslash(o.slice(9));
    else if (o.startsWith('workdir=')) work = unescapeBackslash(o.slice(8));
  }
  return { lowers: lowersTopFirst.reverse(), upper, work };
}

/** The interfaces of a process's network namespace with their byte counters (/proc/PID/net/dev). */
/** The routes in the namespace of `pid` (IPv4, /proc/PID/net/route: the kernel's little-endian hex). */
export async function netRoutes(pid: number): Promise<{ destination: string; gateway: string; device: string }[] | null> {
  const text = await readOr(`/proc/${pid}/net/route`);
  if (text === null) return null;
  const ip = (h: string): string => { const n = parseInt(h, 16); return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.'); };
  const bits = (h: string): number => parseInt(h, 16).toString(2).replace(/0/g, '').length;
  return text.split('\n').slice(1).map((l) => l.trim().split(/\s+/)).filter((f) => f.length >= 8).map((f) => ({
    destination: `${ip(f[1]!)}/${bits(f[7]!)}`, gateway: ip(f[2]!), device: f[0]!,
  }));
}

export async function netDevices(pid: number): Promise<{ name: string; rxBytes: number; txBytes: number }[] | null> {
  const text = await readOr(`/proc/${pid}/net/dev`);
  if (text === null) return null;
  const out: { name: string; rxBytes: number; txBytes: number }[] = [];
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    out.push({ name: m[1]!, rxBytes: f[0] ?? 0, txBytes: f[8] ?? 0 });
  }
  return out;
}
