/**
 * The kernel settings berth needs, written straight to /proc/sys (no exec). A value is only ever
 * raised to what berth needs, never reset: the host or another engine may rely on it too.
 */
import { readFile, writeFile } from 'node:fs/promises';

import { NetworkError } from './errors.ts';
import { checkIfname } from './tools.ts';

async function ensure(path: string, value: string): Promise<void> {
  try {
    // reading first: a write, even of the same value, has side effects for some keys
    // (forwarding resets the per-interface values to it)
    if ((await readFile(path, 'utf8')).trim() === value) return;
    await writeFile(path, value);
  } catch (e) {
    throw new NetworkError('system', `setting ${path.slice('/proc/sys/'.length).replaceAll('/', '.')}=${value}: ${(e as Error).message}`, { cause: e });
  }
}

/** Routing between interfaces for the family (net.ipv4.ip_forward, net.ipv6.conf.all.forwarding). */
export function enableForwarding(family: 4 | 6): Promise<void> {
  return ensure(family === 4 ? '/proc/sys/net/ipv4/ip_forward' : '/proc/sys/net/ipv6/conf/all/forwarding', '1');
}

/** Lets packets from 127.0.0.0/8 be routed out of `ifname`: the host's 127.0.0.1:PORT, DNAT'd to a container. */
export function setRouteLocalnet(ifname: string): Promise<void> {
  checkIfname(ifname, 'route_localnet');
  return ensure(`/proc/sys/net/ipv4/conf/${ifname}/route_localnet`, '1');
}
