/**
 * The host tools the network layer drives, and one way to run them: through runCommand (the
 * daemon's zygote, so berthd never forks), with a failure becoming a NetworkError that names the
 * step and carries the tool's own words.
 */
import { runCommand, type CommandResult } from '../native/command.ts';
import { parseCidr, parseIp, type Cidr, type Ip } from './cidr.ts';
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

/** "10.0.0.1/24" or "fd00::1/64", checked; the written address is kept (`ip`). */
export function checkCidr(text: string, where: string): Cidr {
  const c = parseCidr(text);
  if (!c) throw new NetworkError('invalid', `${where}: invalid CIDR address ${JSON.stringify(text)}`);
  return c;
}

/** An IP address (no prefix), checked. */
export function checkIp(text: string, where: string): Ip {
  const ip = parseIp(text);
  if (!ip) throw new NetworkError('invalid', `${where}: invalid IP address ${JSON.stringify(text)}`);
  return ip;
}
