/**
 * Bridges and veth pairs, made with `ip -batch -` (one exec for many changes) in the host's
 * namespace and, for a container's end, inside its sandbox through nsenter.
 */
import { createHash } from 'node:crypto';
import { isAbsolute } from 'node:path';

import { formatCidr, formatIp, parseIp, type Cidr } from './cidr.ts';
import { NetworkError } from './errors.ts';
import { setRouteLocalnet } from './sysctl.ts';
import { IP, NSENTER, checkCidr, checkIfname, checkIp, run, runOk, words } from './tools.ts';

export interface BridgeConfig {
  name: string;
  /** the gateway addresses, as CIDRs: "172.17.0.1/16", "fd00:1::1/64" */
  addresses: string[];
  mtu?: number;
}

export interface EndpointConfig {
  /** the sandbox's netns file */
  sandbox: string;
  hostIfname: string;
  /** the name inside the sandbox: eth0, eth1… */
  ifname: string;
  bridge: string;
  /** CIDRs, IPv4 and/or IPv6 */
  addresses: string[];
  gateway4?: string;
  gateway6?: string;
  mac?: string;
  mtu?: number;
}

export interface LinkInfo { name: string; kind: string; master?: string }

const absent = (output: string): boolean => /Cannot find device|does not exist/.test(output);

function checkMtu(mtu: number | undefined, where: string): void {
  if (mtu !== undefined && !(Number.isInteger(mtu) && mtu >= 68 && mtu <= 65535)) {
    throw new NetworkError('invalid', `${where}: invalid MTU ${mtu}: an integer from 68 to 65535`);
  }
}

/** An address line for `ip addr add`: IPv6 without duplicate address detection (docker's nodad). */
function addrLine(c: Cidr, dev: string): string {
  return `addr add ${formatCidr(c, true)} dev ${dev}${c.family === 6 ? ' nodad' : ''}`;
}

/** The kernel's spelling of an address in one text with ours, so that the two compare. */
function canonical(text: string): string {
  const ip = parseIp(text);
  return ip ? formatIp(ip) : text;
}

/** Creates the bridge if absent, adds the addresses it lacks, sets it up. Idempotent. */
export async function ensureBridge(b: BridgeConfig): Promise<void> {
  const where = `bridge ${b.name}`;
  checkIfname(b.name, 'bridge');
  checkMtu(b.mtu, where);
  const wanted = b.addresses.map((a) => checkCidr(a, where));
  for (let attempt = 0; ; attempt++) {
    const r = await run(`inspecting ${where}`, [IP, '-d', '-j', 'addr', 'show', 'dev', b.name]);
    if (r.code !== 0 && !absent(r.output)) throw new NetworkError('system', `inspecting ${where}: ip: ${words(r)}`);
    const cur = r.code === 0 ? (JSON.parse(r.output) as IpAddrJson[])[0] : undefined;
    if (cur && cur.linkinfo?.info_kind !== 'bridge') {
      throw new NetworkError('conflict', `${where}: a link of that name exists and is not a bridge (${cur.linkinfo?.info_kind ?? 'device'})`);
    }
    const have = new Set((cur?.addr_info ?? []).map((a) => `${canonical(a.local)}/${a.prefixlen}`));
    const lines: string[] = [];
    if (!cur) lines.push(`link add name ${b.name}${b.mtu ? ` mtu ${b.mtu}` : ''} type bridge`);
    else if (b.mtu && cur.mtu !== b.mtu) lines.push(`link set dev ${b.name} mtu ${b.mtu}`);
    for (const c of wanted) if (!have.has(formatCidr(c, true))) lines.push(addrLine(c, b.name));
    if (!cur?.flags?.includes('UP')) lines.push(`link set dev ${b.name} up`);
    if (lines.length > 0) {
      const w = await run(`setting up ${where}`, [IP, '-batch', '-'], lines.join('\n') + '\n');
      // another caller made it between the look and the change: look again
      if (w.code !== 0 && attempt === 0 && /File exists/.test(w.output)) continue;
      if (w.code !== 0) throw new NetworkError('system', `setting up ${where}: ip: ${words(w)}`);
    }
    await setRouteLocalnet(b.name);
    return;
  }
}

/**
 * The global IPv4 addresses (CIDR, as written: `172.17.0.1/16`) of bridge `name`, or undefined when
 * there is no such link: a daemon finding its default bridge already there keeps its address, as
 * dockerd does with docker0.
 */
export async function bridgeAddresses(name: string): Promise<string[] | undefined> {
  checkIfname(name, 'bridge');
  const r = await run(`inspecting bridge ${name}`, [IP, '-4', '-j', 'addr', 'show', 'dev', name]);
  if (r.code !== 0) {
    if (absent(r.output)) return undefined;
    throw new NetworkError('system', `inspecting bridge ${name}: ip: ${words(r)}`);
  }
  const cur = (JSON.parse(r.output) as IpAddrJson[])[0];
  return (cur?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
}

interface IpAddrJson {
  ifname: string;
  mtu?: number;
  flags?: string[];
  linkinfo?: { info_kind?: string };
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/** Deletes the bridge; an absent one is not an error. */
export async function deleteBridge(name: string): Promise<void> {
  checkIfname(name, 'bridge');
  await deleteLink(name, `deleting bridge ${name}`);
}

async function deleteLink(name: string, what: string): Promise<void> {
  const r = await run(what, [IP, 'link', 'del', 'dev', name]);
  if (r.code !== 0 && !absent(r.output)) throw new NetworkError('system', `${what}: ip: ${words(r)}`);
}

/** docker's MAC for an IPv4 address: 02:42 then the address's four bytes (172.17.0.2 -> 02:42:ac:11:00:02). */
export function macFromIPv4(ip: string): string {
  const a = checkIp(ip, 'MAC address from IPv4');
  if (a.family !== 4) throw new NetworkError('invalid', `MAC address from IPv4: ${ip} is not an IPv4 address`);
  const bytes = [24n, 16n, 8n, 0n].map((s) => Number((a.value >> s) & 0xffn));
  return ['02', '42', ...bytes.map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/**
 * A veth pair: the host end on the bridge (up, hairpin on, so a container reaches itself through
 * a published port), the other end created straight in the sandbox under its final name, then
 * addressed and routed there. Two execs: one `ip -batch` in the host's namespace, one inside the
 * sandbox. On failure the host end is deleted (its peer goes with it).
 */
export async function addEndpoint(e: EndpointConfig): Promise<void> {
  const where = `endpoint ${e.hostIfname}`;
  checkIfname(e.hostIfname, where);
  checkIfname(e.ifname, `${where}: container interface`);
  checkIfname(e.bridge, `${where}: bridge`);
  checkMtu(e.mtu, where);
  if (!isAbsolute(e.sandbox) || /\s/.test(e.sandbox)) throw new NetworkError('invalid', `${where}: invalid sandbox path ${JSON.stringify(e.sandbox)}`);
  const cidrs = e.addresses.map((a) => checkCidr(a, where));
  if (e.gateway4 !== undefined && checkIp(e.gateway4, `${where}: gateway`).family !== 4) throw new NetworkError('invalid', `${where}: gateway ${e.gateway4} is not an IPv4 address`);
  if (e.gateway6 !== undefined && checkIp(e.gateway6, `${where}: IPv6 gateway`).family !== 6) throw new NetworkError('invalid', `${where}: IPv6 gateway ${e.gateway6} is not an IPv6 address`);
  if (e.mac !== undefined && !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(e.mac)) throw new NetworkError('invalid', `${where}: invalid MAC address ${JSON.stringify(e.mac)}`);
  const v4 = cidrs.find((c) => c.family === 4);
  const mac = e.mac ?? (v4 ? macFromIPv4(formatIp({ family: 4, value: v4.ip })) : undefined);
  const mtu = e.mtu ? ` mtu ${e.mtu}` : '';

  const host = [
    `link add name ${e.hostIfname}${mtu} master ${e.bridge} up type veth peer name ${e.ifname}${mac ? ` address ${mac}` : ''}${mtu} netns ${e.sandbox}`,
    `link set dev ${e.hostIfname} type bridge_slave hairpin on`,
  ];
  const inside = [
    ...cidrs.map((c) => addrLine(c, e.ifname)),
    `link set dev ${e.ifname} up`,
    ...(e.gateway4 ? [`route add 0.0.0.0/0 via ${e.gateway4} dev ${e.ifname}`] : []),
    ...(e.gateway6 ? [`route add ::/0 via ${e.gateway6} dev ${e.ifname}`] : []),
  ];
  const r = await run(`creating ${where}`, [IP, '-batch', '-'], host.join('\n') + '\n');
  if (r.code !== 0) {
    // the first line may have made the pair before the second failed
    if (!/File exists/.test(r.output)) await deleteLink(e.hostIfname, `cleaning up ${where}`).catch(() => undefined);
    throw new NetworkError(/File exists/.test(r.output) ? 'conflict' : 'system', `creating ${where} on bridge ${e.bridge} into ${e.sandbox}: ip: ${words(r)}`);
  }
  const s = await run(`configuring ${where}`, [NSENTER, `--net=${e.sandbox}`, IP, '-batch', '-'], inside.join('\n') + '\n');
  if (s.code !== 0) {
    await deleteLink(e.hostIfname, `cleaning up ${where}`).catch(() => undefined);
    throw new NetworkError('system', `configuring ${e.ifname} of ${where} in ${e.sandbox}: ip: ${words(s)}`);
  }
}

/** Deletes the host end of an endpoint (the peer in the sandbox goes with it); absent is fine. */
export async function removeEndpoint(hostIfname: string): Promise<void> {
  checkIfname(hostIfname, 'endpoint');
  await deleteLink(hostIfname, `removing endpoint ${hostIfname}`);
}

/** The host end's name of a container's endpoint on a network: `vb` + 13 hex digits, stable. */
export function vethName(containerId: string, networkId: string): string {
  return 'vb' + createHash('sha256').update(`${containerId}\0${networkId}`).digest('hex').slice(0, 13);
}

/** The host's links with their kind (bridge, veth…, '' for a plain device) and master. */
export async function listLinks(): Promise<LinkInfo[]> {
  const out = await runOk('listing links', [IP, '-d', '-j', 'link', 'show']);
  return (JSON.parse(out) as { ifname: string; master?: string; linkinfo?: { info_kind?: string } }[])
    .map((l) => ({ name: l.ifname, kind: l.linkinfo?.info_kind ?? '', ...(l.master ? { master: l.master } : {}) }));
}
