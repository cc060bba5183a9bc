/**
 * Published ports: HostConfig.PortBindings (and PublishAllPorts over the exposed ports) resolved
 * to host ports, each one held by berthd while its container runs, as dockerd's port allocator
 * does: a held port is refused to other containers ("port is already allocated") and to other
 * processes, and one another process holds refuses the container (docker's "address already in
 * use"). The traffic itself never reaches these sockets: nftables DNATs it to the container
 * (firewall.ts). The one case the kernel cannot serve, an IPv6 client of an IPv4-only container
 * (no NAT64 in the kernel path), is proxied in userland by the held IPv6 listener, as docker's
 * userland proxy does.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { connect, createServer, isIPv4, isIPv6, type Server } from 'node:net';

import { ConflictError, InvalidParameterError } from '../errors.ts';

export type PortProto = 'tcp' | 'udp';

/** One published port as it is once resolved: a concrete host port. */
export interface PublishedPort {
  proto: PortProto;
  containerPort: number;
  /** '' for every address (docker's 0.0.0.0 and ::) */
  hostIp: string;
  hostPort: number;
}

/** One published port as asked: the host port may be a range or left to berth (0). */
export interface PortRequest {
  proto: PortProto;
  containerPort: number;
  hostIp: string;
  hostPortLow: number;
  hostPortHigh: number;
}

function parsePortKey(key: string): { port: number; proto: PortProto } {
  const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/.exec(key);
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) throw new InvalidParameterError(`invalid port specification: ${JSON.stringify(key)}`);
  if (m[2] === 'sctp') throw new InvalidParameterError(`publishing ${key}: berth publishes tcp and udp ports only`);
  return { port: Number(m[1]), proto: (m[2] ?? 'tcp') as PortProto };
}

function parseHostPort(text: string | undefined, key: string): [number, number] {
  const t = (text ?? '').trim();
  if (t === '' || t === '0') return [0, 0];
  const m = /^(\d+)(?:-(\d+))?$/.exec(t);
  const lo = m ? Number(m[1]) : NaN;
  const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
  if (!m || lo < 1 || hi > 65535 || hi < lo) throw new InvalidParameterError(`invalid host port ${JSON.stringify(t)} for ${key}`);
  return [lo, hi];
}

/** What a container asks to publish: its PortBindings, and with PublishAllPorts every exposed port not bound. */
export function portRequests(bindings: Record<string, Array<{ HostIp?: string; HostPort?: string }>> | null | undefined, exposed: string[], publishAll: boolean): PortRequest[] {
  const out: PortRequest[] = [];
  const bound = new Set<string>();
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const { port, proto } = parsePortKey(key);
    bound.add(`${port}/${proto}`);
    for (const b of list ?? [{}]) {
      const hostIp = (b.HostIp ?? '').trim();
      if (hostIp !== '' && !isIPv4(hostIp) && !isIPv6(hostIp)) throw new InvalidParameterError(`invalid host IP ${JSON.stringify(hostIp)} for ${key}`);
      const [lo, hi] = parseHostPort(b.HostPort, key);
      out.push({ proto, containerPort: port, hostIp: hostIp === '0.0.0.0' ? '' : hostIp, hostPortLow: lo, hostPortHigh: hi });
    }
  }
  if (publishAll) {
    for (const key of exposed) {
      const { port, proto } = parsePortKey(key);
      if (bound.has(`${port}/${proto}`)) continue;
      out.push({ proto, containerPort: port, hostIp: '', hostPortLow: 0, hostPortHigh: 0 });
    }
  }
  return out;
}

/** docker's default when the kernel's range cannot be read */
const EPHEMERAL: [number, number] = [49153, 60999];

async function ephemeralRange(): Promise<[number, number]> {
  const text = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '');
  const [lo, hi] = text.trim().split(/\s+/).map(Number);
  return lo && hi && hi >= lo ? [lo, hi] : EPHEMERAL;
}

type Holder = { close(): void };

/** The sockets that hold one port: an IPv4 one, and for '' an IPv6 one that proxies to the container. */
interface Held {
  port: PublishedPort;
  holders: Holder[];
}

const keyOf = (proto: PortProto, ip: string, port: number): string => `${proto}/${ip}/${port}`;

export class PortReservations {
  readonly #byOwner = new Map<string, Held[]>();
  /** proto/ip/port → owner, for docker's "already allocated" before trying the kernel */
  readonly #taken = new Map<string, string>();
  #next = 0;

  /**
   * Holds a host port for each request (`previous`, a daemon restart's record of what the running
   * container had, is taken again as it was); all or nothing. `target` is where the IPv6 proxy sends
   * its connections (the container's IPv4 address).
   */
  async reserve(owner: string, requests: PortRequest[], target: () => string, endpoint: string): Promise<PublishedPort[]> {
    await this.release(owner);
    const held: Held[] = [];
    try {
      for (const r of requests) {
        const port = await this.#reserveOne(owner, r, target, endpoint);
        held.push(port);
        this.#byOwner.set(owner, held);
      }
    } catch (e) {
      for (const h of held) this.#drop(h);
      this.#byOwner.delete(owner);
      throw e;
    }
    this.#byOwner.set(owner, held);
    return held.map((h) => h.port);
  }

  async release(owner: string): Promise<void> {
    for (const h of this.#byOwner.get(owner) ?? []) this.#drop(h);
    this.#byOwner.delete(owner);
  }

  #drop(h: Held): void {
    for (const s of h.holders) {
      try { s.close(); } catch { /* closed */ }
    }
    this.#taken.delete(keyOf(h.port.proto, h.port.hostIp, h.port.hostPort));
  }

  async #reserveOne(owner: string, r: PortRequest, target: () => string, endpoint: string): Promise<Held> {
    const shown = r.hostIp === '' ? '0.0.0.0' : r.hostIp.includes(':') ? `[${r.hostIp}]` : r.hostIp;
    const fail = (port: number, why: string): ConflictError =>
      new ConflictError(`driver failed programming external connectivity on endpoint ${endpoint}: ${why.replace('%', `${shown}:${port}`)}`);
    if (r.hostPortLow !== 0 && r.hostPortLow === r.hostPortHigh) {
      if (this.#isTaken(r.proto, r.hostIp, r.hostPortLow)) throw fail(r.hostPortLow, 'Bind for % failed: port is already allocated');
      const holders = await hold(r, r.hostPortLow, target).catch((e: NodeJS.ErrnoException) => {
        throw fail(r.hostPortLow, e.code === 'EADDRINUSE' ? `Error starting userland proxy: listen ${r.proto}${r.hostIp.includes(':') ? '6' : '4'} %: bind: address already in use` : `Error binding %: ${e.message}`);
      });
      return this.#record(owner, r, r.hostPortLow, holders);
    }
    // a range, or any free port: the first one the kernel lets us have, from where the last search stopped
    const [lo, hi] = r.hostPortLow === 0 ? await ephemeralRange() : [r.hostPortLow, r.hostPortHigh];
    const span = hi - lo + 1;
    const start = this.#next % span;
    for (let i = 0; i < span; i++) {
      const port = lo + ((start + i) % span);
      if (this.#isTaken(r.proto, r.hostIp, port)) continue;
      const holders = await hold(r, port, target).catch(() => undefined);
      if (!holders) continue;
      this.#next = start + i + 1;
      return this.#record(owner, r, port, holders);
    }
    throw fail(lo, `Bind for %-${hi} failed: no free port in the range`);
  }

  #isTaken(proto: PortProto, ip: string, port: number): boolean {
    // every-address and one-address bindings of the same port clash too
    if (this.#taken.has(keyOf(proto, ip, port))) return true;
    if (ip === '') return [...this.#taken.keys()].some((k) => k.startsWith(`${proto}/`) && k.endsWith(`/${port}`));
    return this.#taken.has(keyOf(proto, '', port));
  }

  #record(owner: string, r: PortRequest, port: number, holders: Holder[]): Held {
    const p: PublishedPort = { proto: r.proto, containerPort: r.containerPort, hostIp: r.hostIp, hostPort: port };
    this.#taken.set(keyOf(r.proto, r.hostIp, port), owner);
    return { port: p, holders };
  }

  /** Everything released (daemon shutdown). */
  close(): void {
    for (const owner of [...this.#byOwner.keys()]) void this.release(owner);
  }
}

/** Binds the host port: TCP listeners whose connections never come (DNAT takes them) but from IPv6, proxied. */
async function hold(r: PortRequest, port: number, target: () => string): Promise<Holder[]> {
  const holders: Holder[] = [];
  try {
    if (r.proto === 'tcp') {
      if (r.hostIp === '' || isIPv4(r.hostIp)) holders.push(await listenTcp(r.hostIp || '0.0.0.0', port, false, undefined));
      if (r.hostIp === '' || isIPv6(r.hostIp)) {
        holders.push(await listenTcp(r.hostIp || '::', port, true, () => ({ host: target(), port: r.containerPort })).catch((e: NodeJS.ErrnoException) => {
          // a host without IPv6 holds the IPv4 side only
          if (r.hostIp === '' && (e.code === 'EAFNOSUPPORT' || e.code === 'EADDRNOTAVAIL')) return { close: () => undefined };
          throw e;
        }));
      }
    } else {
      holders.push(await bindUdp(r.hostIp || '0.0.0.0', port));
    }
    return holders;
  } catch (e) {
    for (const h of holders) h.close();
    throw e;
  }
}

function listenTcp(host: string, port: number, v6only: boolean, proxyTo: (() => { host: string; port: number }) | undefined): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((sock) => {
      if (!proxyTo) return void sock.destroy();
      const upstream = connect(proxyTo());
      sock.pipe(upstream).pipe(sock);
      const end = (): void => { sock.destroy(); upstream.destroy(); };
      sock.on('error', end);
      upstream.on('error', end);
      sock.on('close', end);
      upstream.on('close', end);
    });
    server.once('error', reject);
    server.listen({ host, port, exclusive: true, ipv6Only: v6only }, () => {
      server.off('error', reject);
      server.on('error', () => undefined);
      server.unref();
      resolve(server);
    });
  });
}

function bindUdp(host: string, port: number): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
    s.once('error', reject);
    s.bind({ address: host, port, exclusive: true }, () => {
      s.off('error', reject);
      s.on('error', () => undefined);
      s.unref();
      resolve(s);
    });
  });
}

/** docker's NetworkSettings.Ports: every exposed port, with its host bindings (null when unpublished). */
export function portMap(exposed: string[], published: PublishedPort[]): Record<string, Array<{ HostIp: string; HostPort: string }> | null> {
  const out: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = {};
  for (const key of exposed) out[key.includes('/') ? key : `${key}/tcp`] = null;
  for (const p of published) {
    const key = `${p.containerPort}/${p.proto}`;
    const list = out[key] ?? (out[key] = []);
    if (p.hostIp === '') list.push({ HostIp: '0.0.0.0', HostPort: String(p.hostPort) }, { HostIp: '::', HostPort: String(p.hostPort) });
    else list.push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
  }
  return out;
}
