/**
 * The engine's network data plane: what a network and a container on it need on the host, made
 * with the network layer (src/network: IPAM, bridge and veth links, the sandbox namespace, the
 * nftables table, the DNS servers) and undone on every path (stop, exit, rm, a failed start, a
 * daemon restart's reconcile). The network records themselves (docker's NetworkResource, create/
 * ls/rm) are the NetworkService's (../networks/); this implements its plumbing.
 *
 * A container's endpoints (one per network) are in its record from create to rm, with the
 * addresses leased at create; while it runs it has a sandbox, `<execRoot>/netns/<id>`, a network
 * namespace its runtime joins, with one veth pair per endpoint, and its published ports are held
 * (ports.ts) and DNATed (firewall).
 */
import { randomBytes } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { DnsServer, type DnsAnswer } from '../../network/dns/server.ts';
import { hostResolvers } from '../../network/dns/resolvconf.ts';
import { NetworkError } from '../../network/errors.ts';
import { Firewall, type NetworkRules, type PortRule } from '../../network/firewall.ts';
import { Ipam, type Lease } from '../../network/ipam.ts';
import { addEndpoint, bridgeAddresses, deleteBridge, ensureBridge, listLinks, macFromIPv4, removeEndpoint, vethName, type EndpointConfig } from '../../network/links.ts';
import { formatCidr, parseCidr } from '../../network/cidr.ts';
import { createSandbox, listSandboxes, removeSandbox } from '../../network/sandbox.ts';
import { ConflictError, EngineError, InvalidParameterError, NotFoundError, SystemError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { hostRoutes } from './host-routes.ts';
import type { NetworkPlumbing, NetworkRecord, PoolsChoice, PoolsRequest } from '../networks/types.ts';
import { portMap, portRequests, PortReservations, type PublishedPort } from './ports.ts';

/** A container's place on one network, kept in its record from create to rm. */
export interface EndpointRecord {
  networkId: string;
  networkName: string;
  endpointId: string;
  /** network-scoped names besides the container's own (--network-alias, compose's service name) */
  aliases: string[];
  /** as asked (IPAMConfig), kept for a reconnect */
  requested?: { v4?: string; v6?: string };
  lease: Lease;
  mac: string;
  /** the interface in the container (eth0, eth1 …) and the veth's host end */
  ifname: string;
  hostIfname: string;
}

/** What the plane needs of a container. */
export interface ContainerView {
  id: string;
  /** without docker's leading slash */
  name: string;
  endpoints: EndpointRecord[];
  exposed: string[];
  portBindings: Record<string, Array<{ HostIp?: string; HostPort?: string }>> | null | undefined;
  publishAll: boolean;
  /** its sandbox while it runs */
  sandbox?: string;
}

/** A sandbox being made ahead of a start. */
export interface Prepared {
  sandbox: string;
  /** resolves (ms it took) once the namespace exists */
  made: Promise<number>;
}

/** The running side of a started container: where its namespace is, and when its network is ready. */
export interface Started {
  sandbox: string;
  /** when the namespace exists (the runtime may join it) */
  made: Promise<void>;
  ready: Promise<{ ports: PublishedPort[]; timings: Record<string, number> }>;
}

const bridgeName = (n: NetworkRecord): string => n.bridge;

/** The veth of `ep` into `sandbox`, with the default routes via its gateways when `routed`. */
function endpointConfig(sandbox: string, n: NetworkRecord, ep: EndpointRecord, routed: boolean): EndpointConfig {
  return {
    sandbox, hostIfname: ep.hostIfname, ifname: ep.ifname, bridge: bridgeName(n),
    addresses: [ep.lease.v4, ep.lease.v6].filter((a) => a !== undefined).map((a) => `${a!.address}/${a!.prefix}`),
    ...(routed && ep.lease.v4 && { gateway4: ep.lease.v4.gateway }),
    ...(routed && ep.lease.v6 && { gateway6: ep.lease.v6.gateway }),
    mac: ep.mac,
  };
}

/** `172.17.0.1/16` → `172.17.0.0/16` */
function networkText(cidr: string): string {
  const c = parseCidr(cidr);
  if (!c) throw new SystemError(`not an address with a prefix: ${cidr}`);
  return formatCidr(c);
}

/** The network layer's errors as the engine's (and so the API's status codes). */
export function engineError(e: unknown): Error {
  if (e instanceof EngineError || !(e instanceof NetworkError)) return e as Error;
  switch (e.kind) {
    case 'invalid': return new InvalidParameterError(e.message, { cause: e });
    case 'notfound': return new NotFoundError(e.message, { cause: e });
    case 'conflict': return new ConflictError(e.message, { cause: e });
    default: return new SystemError(e.message, { cause: e });
  }
}

const lift = <T>(p: Promise<T>): Promise<T> => p.catch((e: unknown) => { throw engineError(e); });

export class NetworkPlane implements NetworkPlumbing {
  readonly ports = new PortReservations();
  readonly firewall: Firewall;
  /** user networks' DNS servers, by network id */
  readonly #dns = new Map<string, DnsServer>();
  /** networks whose bridge and rules are made in this daemon's life */
  readonly #ready = new Map<string, Promise<void>>();
  /** who answers to which name on which network: network id → container id → names and addresses */
  readonly #names = new Map<string, Map<string, { names: string[]; v4: string[]; v6: string[] }>>();
  /** running containers' published ports, for NetworkSettings.Ports */
  readonly #published = new Map<string, PublishedPort[]>();

  private constructor(
    readonly ipam: Ipam,
    readonly sandboxDir: string,
    readonly log: Logger,
    readonly lookup: (idOrName: string) => NetworkRecord | undefined,
    private readonly all: () => NetworkRecord[],
    table: string,
  ) {
    this.firewall = new Firewall({ table });
  }

  static async open(opts: { dataRoot: string; execRoot: string; log: Logger; lookup: (idOrName: string) => NetworkRecord | undefined; all: () => NetworkRecord[]; table: string }): Promise<NetworkPlane> {
    const ipam = await Ipam.open(join(opts.dataRoot, 'network', 'ipam'));
    return new NetworkPlane(ipam, join(opts.execRoot, 'netns'), opts.log, opts.lookup, opts.all, opts.table);
  }

  // ---- networks (the NetworkService's plumbing: create and remove)

  /** Pools for a new network (docker's default pools unless given), then its bridge, rules and DNS. */
  async create(n: NetworkRecord, req: PoolsRequest): Promise<PoolsChoice> {
    // the default bridge found made (a daemon before this one, another data root): its address stays
    if (n.builtin && !req.v4?.subnet) {
      const have = await lift(bridgeAddresses(n.bridge));
      const gw = have?.[0];
      if (gw) req = { ...req, v4: { ...req.v4, subnet: networkText(gw), gateway: gw.split('/')[0]! } };
    }
    // every route of the host, other daemons' bridges included: their subnets are taken
    const avoid = await hostRoutes((link) => link === n.bridge);
    const pools = await lift(this.ipam.createPools(n.id, req, { avoid, defaultV4: true }));
    // the bridge now, as dockerd makes it: its route marks the subnet taken for everyone (another
    // engine choosing a subnet meanwhile). The default bridge's rules wait for its first container:
    // a daemon that never runs one on it leaves no table behind.
    if (n.driver === 'bridge') {
      try {
        if (n.builtin) await this.#bridgeOnly(n);
        else await this.ensureNetwork(n);
      } catch (e) {
        this.#ready.delete(n.id);
        await this.ipam.removePools(n.id).catch(() => undefined);
        // a user network's bridge is its own; the default one may be another daemon's too
        if (!n.builtin) await lift(deleteBridge(n.bridge)).catch(() => undefined);
        throw e;
      }
    }
    return pools;
  }

  /** A network's pools for a record made before (the built-in bridge at first use). */
  async #poolsOf(n: NetworkRecord) {
    const have = this.ipam.pools(n.id);
    if (have) return have;
    const v4 = n.ipam.find((c) => c.Subnet && !c.Subnet.includes(':'));
    const v6 = n.ipam.find((c) => c.Subnet?.includes(':'));
    return lift(this.ipam.createPools(n.id, {
      ...(v4 && { v4: { subnet: v4.Subnet!, ...(v4.Gateway && { gateway: v4.Gateway }), ...(v4.IPRange && { ipRange: v4.IPRange }) } }),
      ...(v6 && { v6: { subnet: v6.Subnet!, ...(v6.Gateway && { gateway: v6.Gateway }), ...(v6.IPRange && { ipRange: v6.IPRange }) } }),
    }, { avoid: [], defaultV4: true }));
  }

  /** The bridge, its rules and (user networks) its DNS server, once per daemon life. */
  ensureNetwork(n: NetworkRecord): Promise<void> {
    let p = this.#ready.get(n.id);
    if (!p) {
      p = this.#makeNetwork(n).then(() => undefined);
      this.#ready.set(n.id, p);
      p.catch(() => this.#ready.delete(n.id));
    }
    return p;
  }

  async #makeNetwork(n: NetworkRecord, firewall = true): Promise<NetworkRules> {
    const pools = await this.#bridgeOnly(n);
    const bridge = bridgeName(n);
    const rules: NetworkRules = { bridge, subnets: [pools.v4?.subnet, pools.v6?.subnet].filter((s): s is string => !!s), internal: n.internal };
    if (firewall) await lift(this.firewall.setNetwork(rules));
    // docker's default bridge has no embedded DNS; user networks do
    if (!n.builtin && pools.v4 && !this.#dns.has(n.id)) {
      const upstreams = hostResolvers(await readFile('/etc/resolv.conf', 'utf8').catch(() => '')).nameservers;
      const server = await DnsServer.start({
        address: pools.v4.gateway,
        resolve: (name) => this.#resolve(n.id, name),
        ptr: (ip) => this.#ptr(n.id, ip),
        upstreams,
      }).catch((e: Error) => {
        this.log.warn(`network ${n.name}: DNS server on ${pools.v4!.gateway}:53: ${e.message}; names of its containers will not resolve`);
        return undefined;
      });
      if (server) this.#dns.set(n.id, server);
    }
    return rules;
  }

  /** Just the bridge with its address (the default one, until a container is on it). */
  async #bridgeOnly(n: NetworkRecord) {
    const pools = await this.#poolsOf(n);
    const addresses = [pools.v4, pools.v6].filter((p) => p !== undefined).map((p) => `${p!.gateway}/${p!.subnet.split('/')[1]}`);
    await lift(ensureBridge({ name: n.bridge, addresses }));
    return pools;
  }

  /** A network's bridge, rules, DNS server and pools, gone (no endpoints are left: the service checked). */
  async remove(n: NetworkRecord): Promise<void> {
    this.#ready.delete(n.id);
    await this.#dns.get(n.id)?.close();
    this.#dns.delete(n.id);
    this.#names.delete(n.id);
    const bridge = bridgeName(n);
    await lift(this.firewall.removeNetwork(bridge));
    await lift(deleteBridge(bridge));
    await lift(this.ipam.removePools(n.id));
  }

  /** Docker's IPAM config of a network as it is (the pools chosen at create). */
  poolsOf(networkId: string) {
    return this.ipam.pools(networkId);
  }

  // ---- containers

  /**
   * A container's endpoint on `n`, its addresses leased now (create, or connect): docker's checks
   * of --ip and --network-alias, which need a user-defined network.
   */
  async attach(containerId: string, n: NetworkRecord, ifname: string, cfg: { aliases?: string[]; v4?: string; v6?: string; mac?: string }): Promise<EndpointRecord> {
    if (n.driver !== 'bridge') throw new InvalidParameterError(`container cannot be connected to network ${n.name}: driver ${n.driver} has no endpoints`);
    const builtin = n.name === 'bridge';
    if (builtin && (cfg.v4 || cfg.v6)) throw new InvalidParameterError('user specified IP address is supported on user defined networks only');
    if (builtin && (cfg.aliases ?? []).length > 0) throw new InvalidParameterError('network-scoped alias is supported only for containers in user defined networks');
    await this.#poolsOf(n);
    const lease = await lift(this.ipam.allocate(n.id, containerId, { ...(cfg.v4 && { v4: cfg.v4 }), ...(cfg.v6 && { v6: cfg.v6 }) }));
    return {
      networkId: n.id, networkName: n.name, endpointId: randomBytes(32).toString('hex'),
      aliases: [...new Set(cfg.aliases ?? [])],
      ...((cfg.v4 || cfg.v6) && { requested: { ...(cfg.v4 && { v4: cfg.v4 }), ...(cfg.v6 && { v6: cfg.v6 }) } }),
      lease, mac: cfg.mac || (lease.v4 ? macFromIPv4(lease.v4.address) : randomMac()),
      ifname, hostIfname: vethName(containerId, n.id),
    };
  }

  /** The addresses go back to their pools (rm, disconnect, a failed create). */
  async detach(containerId: string, eps: EndpointRecord[]): Promise<void> {
    for (const ep of eps) await lift(this.ipam.release(ep.networkId, containerId));
  }

  /**
   * At start: the sandbox (awaited: the runtime joins it), then, concurrently with the runtime's
   * create, its endpoints, published ports and DNS names (`ready`, which start awaits before the
   * container's process runs). A failure undoes everything made.
   */
  /**
   * A sandbox made ahead of a start (at create: `docker run`'s create and start requests come one
   * after the other, and a network namespace costs ~3.5 ms in the kernel): its path now, the
   * namespace when `made` resolves. Only loopback is in it until `up` adds the veths, so a created
   * container is reachable at no address.
   */
  prepare(): Prepared {
    const t0 = performance.now();
    const sandbox = join(this.sandboxDir, randomBytes(16).toString('hex'));
    const made = lift(createSandbox(sandbox)).then(() => performance.now() - t0);
    made.catch(() => undefined);
    return { sandbox, made };
  }

  up(c: ContainerView, pre?: Prepared): Started | undefined {
    if (c.endpoints.length === 0) return undefined;
    const t0 = performance.now();
    // its path now (the spec names it), the namespace while start does its other preparations
    const { sandbox, made: premade } = pre ?? this.prepare();
    // a veth name of this start's own: the last start's pair may still be on its way out with its namespace
    for (const ep of c.endpoints) ep.hostIfname = vethName(c.id, `${ep.networkId}/${randomBytes(4).toString('hex')}`);
    // (made ahead: the time this start waited for it)
    const made = premade.then((ms) => (pre ? performance.now() - t0 : ms));
    const links = made.then((tSandbox) => this.#connectAll(c, sandbox).then((endpoints) => ({ sandbox: tSandbox, endpoints })));
    // the published ports at once: their DNAT needs the address (leased at create), not the veth,
    // and its kernel commit (~15 ms) is the longest step
    const published = this.#publish(c).then((ports) => ({ ports, ms: performance.now() - t0 }));
    // settled only when both are: a failed start's teardown must not race a step still running
    const ready = Promise.allSettled([links, published]).then(([l, p]) => {
      if (l.status === 'rejected') throw l.reason;
      if (p.status === 'rejected') throw p.reason;
      return { ports: p.value.ports, timings: { ...l.value, ...(p.value.ports.length > 0 && { ports: p.value.ms }) } };
    });
    published.catch(() => undefined);
    links.catch(() => undefined);
    // a failed start calls down(); an unobserved rejection meanwhile would end the daemon
    made.catch(() => undefined);
    ready.catch(() => undefined);
    return { sandbox, made: made.then(() => undefined), ready };
  }

  /** The container's veths into its sandbox and its names on each network; how long it took (ms). */
  async #connectAll(c: ContainerView, sandbox: string): Promise<number> {
    const t = performance.now();
    let routed = false;
    for (const ep of c.endpoints) {
      const n = this.lookup(ep.networkId);
      if (!n) throw new NotFoundError(`network ${ep.networkName} not found`);
      await this.ensureNetwork(n);
      // one default route: the first network with a way out
      const gw: boolean = !routed && !n.internal;
      routed ||= gw;
      await lift(addEndpoint(endpointConfig(sandbox, n, ep, gw)));
      this.#register(c, ep);
    }
    return performance.now() - t;
  }

  /** The host ports held and their DNAT written, to the first network's IPv4 address. */
  async #publish(c: ContainerView): Promise<PublishedPort[]> {
    const requests = portRequests(c.portBindings, c.exposed, c.publishAll);
    if (requests.length === 0) return [];
    const first = c.endpoints.find((e) => e.lease.v4);
    if (!first) throw new InvalidParameterError('publishing ports needs an IPv4 address on a bridge network');
    const n = this.lookup(first.networkId);
    if (!n) throw new NotFoundError(`network ${first.networkName} not found`);
    // the network's own rules (forwarding, masquerade) come with or before the ports'
    await this.ensureNetwork(n);
    const ports = await this.ports.reserve(c.id, requests, () => first.lease.v4!.address, `${c.name} (${first.endpointId.slice(0, 12)})`);
    this.#published.set(c.id, ports);
    await lift(this.firewall.setPorts(c.id, ports.map((p): PortRule => ({
      proto: p.proto, hostIp: p.hostIp, hostPort: p.hostPort, containerIp: first.lease.v4!.address, containerPort: p.containerPort, bridge: bridgeName(n),
    }))));
    return ports;
  }

  /** `network connect` of a running container: one more veth into its sandbox, its names on that network. */
  async plugLive(c: ContainerView, ep: EndpointRecord, sandbox: string): Promise<void> {
    const n = this.lookup(ep.networkId);
    if (!n) throw new NotFoundError(`network ${ep.networkName} not found`);
    await this.ensureNetwork(n);
    await lift(addEndpoint(endpointConfig(sandbox, n, ep, false)));
    this.#register(c, ep);
  }

  /** `network disconnect` of a running container: its veth on that network and its names there, gone. */
  async unplugLive(id: string, ep: EndpointRecord): Promise<void> {
    this.#unregister(id, ep.networkId);
    await lift(removeEndpoint(ep.hostIfname));
  }

  /** Everything `up` made, gone; what is already gone is fine (an exit, a crash, a failed start). */
  async down(c: { id: string; endpoints: EndpointRecord[]; sandbox?: string }): Promise<void> {
    const errors: string[] = [];
    const step = async (what: string, f: () => Promise<unknown>): Promise<void> => {
      try { await f(); } catch (e) { errors.push(`${what}: ${(e as Error).message}`); }
    };
    this.#published.delete(c.id);
    for (const ep of c.endpoints) this.#unregister(c.id, ep.networkId);
    // the rules (a kernel commit, ~15 ms) and the namespace at once; the host ports are held until
    // their rules are gone, so that no other container takes one meanwhile
    const rules = (async () => {
      await step('port rules', () => this.firewall.removePorts(c.id));
      await step('published ports', () => this.ports.release(c.id));
    })();
    // the veths go with the namespace: the kernel deletes a pair whose namespace ends, ~20 ms
    // later (an RCU grace period; an explicit delete waits as long). Waited for, so that a removed
    // container leaves no link behind; one still there after a second is deleted.
    const links = (async () => {
      if (c.sandbox) await step('sandbox', () => removeSandbox(c.sandbox!));
      await Promise.all(c.endpoints.map((ep) => step(`veth ${ep.hostIfname}`, () => this.#vethGone(ep.hostIfname))));
    })();
    await Promise.all([rules, links]);
    if (errors.length > 0) throw new SystemError(`container ${c.id}: network teardown: ${errors.join('; ')}`);
  }

  async #vethGone(name: string): Promise<void> {
    for (let waited = 0; waited < 1000; waited += 2) {
      if (!(await access(`/sys/class/net/${name}`).then(() => true, () => false))) return;
      await new Promise((r) => setTimeout(r, 2));
    }
    await lift(removeEndpoint(name));
  }

  /** A running container's published ports (NetworkSettings.Ports, docker ps's PORTS). */
  portsOf(c: { id: string; exposed: string[] }): Record<string, Array<{ HostIp: string; HostPort: string }> | null> {
    return portMap(c.exposed, this.#published.get(c.id) ?? []);
  }

  published(id: string): PublishedPort[] {
    return this.#published.get(id) ?? [];
  }

  // ---- DNS names

  #register(c: ContainerView, ep: EndpointRecord): void {
    let m = this.#names.get(ep.networkId);
    if (!m) this.#names.set(ep.networkId, (m = new Map()));
    m.set(c.id, {
      names: [c.name, ...ep.aliases, c.id.slice(0, 12)].map((s) => s.toLowerCase()),
      v4: ep.lease.v4 ? [ep.lease.v4.address] : [],
      v6: ep.lease.v6 ? [ep.lease.v6.address] : [],
    });
  }

  #unregister(id: string, networkId: string): void {
    this.#names.get(networkId)?.delete(id);
  }

  #resolve(networkId: string, name: string): DnsAnswer | undefined {
    const out: DnsAnswer = { v4: [], v6: [] };
    let found = false;
    for (const e of this.#names.get(networkId)?.values() ?? []) {
      if (!e.names.includes(name)) continue;
      found = true;
      out.v4.push(...e.v4);
      out.v6.push(...e.v6);
    }
    return found ? out : undefined;
  }

  #ptr(networkId: string, ip: string): string | undefined {
    for (const e of this.#names.get(networkId)?.values() ?? []) if (e.v4.includes(ip) || e.v6.includes(ip)) return e.names[0];
    return undefined;
  }

  // ---- daemon start

  /**
   * After the containers are reconciled: the running ones' networks, names, ports and rules as they
   * were (their sandboxes and veths lived on); everything of berth's that no running container
   * owns (sandboxes, host veths, leases of removed containers) removed.
   */
  async reconcile(running: Array<ContainerView & { ports?: PublishedPort[] }>, existing: Set<string>): Promise<void> {
    const networks = this.all();
    // every user network as it should be (bridge, DNS server, rules in the table below), and the
    // default bridge if a running container is on it (else at its first container)
    const used = new Set(running.flatMap((c) => c.endpoints.map((e) => e.networkId)));
    const netRules: NetworkRules[] = [];
    for (const n of networks) {
      if (n.driver !== 'bridge') continue;
      if (n.builtin && !used.has(n.id)) {
        await this.#bridgeOnly(n).catch((e: Error) => this.log.warn(`network ${n.name}: ${e.message}`));
        continue;
      }
      const made = this.#makeNetwork(n, false);
      this.#ready.set(n.id, made.then(() => undefined));
      try {
        netRules.push(await made);
      } catch (e) {
        this.#ready.delete(n.id);
        this.log.warn(`network ${n.name}: ${(e as Error).message}`);
      }
    }
    const liveVeths = new Set<string>();
    const portRules = new Map<string, PortRule[]>();
    for (const c of running) {
      for (const ep of c.endpoints) {
        liveVeths.add(ep.hostIfname);
        this.#register(c, ep);
      }
      const first = c.endpoints.find((e) => e.lease.v4);
      const n = first && this.lookup(first.networkId);
      if (first && n && c.ports && c.ports.length > 0) {
        const wanted = c.ports.map((p) => ({ proto: p.proto, containerPort: p.containerPort, hostIp: p.hostIp, hostPortLow: p.hostPort, hostPortHigh: p.hostPort }));
        try {
          const ports = await this.ports.reserve(c.id, wanted, () => first.lease.v4!.address, c.name);
          this.#published.set(c.id, ports);
          portRules.set(c.id, ports.map((p) => ({ proto: p.proto, hostIp: p.hostIp, hostPort: p.hostPort, containerIp: first.lease.v4!.address, containerPort: p.containerPort, bridge: bridgeName(n) })));
        } catch (e) {
          this.log.warn(`container ${c.id}: its published ports again: ${(e as Error).message}`);
        }
      }
    }
    // one transaction: the previous daemon's table replaced by what is true now
    await lift(this.firewall.sync(netRules, portRules)).catch((e: Error) => this.log.error(`firewall: ${e.message}`));
    const inUse = new Set(running.map((c) => c.sandbox).filter((s): s is string => !!s));
    for (const name of await listSandboxes(this.sandboxDir).catch(() => [] as string[])) {
      const path = join(this.sandboxDir, name);
      if (inUse.has(path)) continue;
      await removeSandbox(path).catch((e: Error) => this.log.warn(`sandbox ${name}: ${e.message}`));
    }
    for (const link of await listLinks().catch(() => [])) {
      if (!link.name.startsWith('vb') || link.kind !== 'veth' || liveVeths.has(link.name)) continue;
      // only the veths of bridges of this daemon's networks: another daemon's are its own
      if (!link.master || !networks.some((n) => n.driver === 'bridge' && n.bridge === link.master)) continue;
      await removeEndpoint(link.name).catch((e: Error) => this.log.warn(`veth ${link.name}: ${e.message}`));
    }
    for (const netId of this.ipam.networks()) {
      for (const owner of this.ipam.leases(netId).keys()) {
        if (!existing.has(owner)) await this.ipam.release(netId, owner).catch((e: Error) => this.log.warn(`lease of ${owner}: ${e.message}`));
      }
    }
  }

  /** The daemon's end: DNS servers and port holds go (containers, veths and rules stay for the next daemon). */
  async close(): Promise<void> {
    this.ports.close();
    for (const s of this.#dns.values()) await s.close().catch(() => undefined);
    this.#dns.clear();
  }
}

function randomMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0]! & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

