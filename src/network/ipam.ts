/**
 * Persistent address management with docker's default IPAM semantics: a pool (subnet, gateway,
 * optional ip-range) per family per network, leases owned by a container, addresses handed out in
 * order after the last one given (a just-released address is not reused before the range wraps, so
 * a stale ARP entry or conntrack flow of a removed container does not hit its successor).
 *
 * One JSON file per network (`<dir>/<netId>.json`), replaced atomically (tmp + fsync + rename). State
 * changes happen synchronously in memory, so concurrent callers can never be given one address twice;
 * the caller's promise settles once a write containing its change is on disk (changes made while a
 * write is in flight share the next one: 1000 concurrent allocations cost a handful of fsyncs). A
 * failed write undoes the changes it carried and fails their callers. One writer process is assumed.
 */
import { mkdir, open, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';

import { type Cidr, type Family, cidrOf, contains, formatCidr, formatIp, lastAddress, overlaps, parseCidr, parseIp, size } from './cidr.ts';
import { NetworkError } from './errors.ts';

export interface PoolRequest {
  subnet?: string;
  gateway?: string;
  ipRange?: string;
}

/** Normalised text: subnet and ipRange as network-address/prefix, gateway a bare address. */
export interface Pool {
  subnet: string;
  gateway: string;
  ipRange?: string;
}

export interface Lease {
  v4?: { address: string; prefix: number; gateway: string };
  v6?: { address: string; prefix: number; gateway: string };
}

type Fam = 'v4' | 'v6';

/** docker's default address pools (20.10): 172.17-31.0.0/16, then 192.168.0.0/16 in /20s. */
export function defaultPools(): Cidr[] {
  const out: Cidr[] = [];
  for (let b = 17n; b <= 31n; b++) out.push(cidrOf(4, (172n << 24n) | (b << 16n), 16));
  for (let c = 0n; c < 256n; c += 16n) out.push(cidrOf(4, (192n << 24n) | (168n << 16n) | (c << 8n), 20));
  return out;
}

interface PoolState {
  pool: Pool;
  subnet: Cidr;
  range: Cidr;
  gateway: bigint;
  /** the last address handed out; the next search starts after it */
  last: bigint;
  /** addresses leased, to their owner */
  used: Map<bigint, string>;
}

interface NetState {
  id: string;
  name: string;
  v4?: PoolState;
  v6?: PoolState;
  leases: Map<string, Lease>;
}

interface FileShape {
  version: 1;
  id: string;
  name: string;
  /** `last`: the address handed out last, absent before the first */
  pools: { v4?: Pool & { last?: string }; v6?: Pool & { last?: string } };
  leases: Record<string, Lease>;
}

/** Writes of one network's file, batched: changes made while a write runs go into the next one. */
class Writer {
  private running: Promise<void> | undefined;
  private pending: { undo: () => void; resolve: () => void; reject: (e: unknown) => void }[] = [];

  constructor(private readonly write: () => Promise<void>) {}

  /** Persist the change just made in memory; `undo` reverts it if its write fails. */
  commit(undo: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ undo, resolve, reject });
      if (!this.running) this.running = this.loop();
    });
  }

  /** Resolves once every commit so far is settled. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      try {
        await this.write();
        for (const p of batch) p.resolve();
      } catch (e) {
        for (const p of [...batch].reverse()) p.undo();
        for (const p of batch) p.reject(e);
      }
    }
    this.running = undefined;
  }
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

function famName(f: Fam): string {
  return f === 'v4' ? 'IPv4' : 'IPv6';
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}

export class Ipam {
  /** Files found unreadable at open: `path: why`. They are left in place. */
  readonly problems: string[] = [];
  private readonly nets = new Map<string, NetState>();
  private readonly writers = new Map<string, Writer>();
  /** pool creation and removal, one at a time: a choice of subnet must see every other pool */
  private poolLock: Promise<unknown> = Promise.resolve();

  private constructor(readonly dir: string) {}

  static async open(dir: string, opts: { warn?: (message: string) => void } = {}): Promise<Ipam> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const ipam = new Ipam(dir);
    for (const entry of (await readdir(dir)).sort()) {
      // a write cut short by a crash: the rename never happened, the .json before it is intact
      if (/\.json\.tmp-\d+$/.test(entry)) {
        await unlink(join(dir, entry)).catch(() => {});
        continue;
      }
      if (!entry.endsWith('.json')) continue;
      const path = join(dir, entry);
      try {
        const net = loadNet(JSON.parse(await readFile(path, 'utf8')), entry.slice(0, -5));
        ipam.nets.set(net.id, net);
      } catch (e) {
        const msg = `${path}: ${e instanceof Error ? e.message : String(e)}; ignored`;
        ipam.problems.push(msg);
        opts.warn?.(`ipam: ${msg}`);
      }
    }
    return ipam;
  }

  networks(): string[] {
    return [...this.nets.keys()];
  }

  pools(netId: string): { v4?: Pool; v6?: Pool } | undefined {
    const n = this.nets.get(netId);
    if (!n) return undefined;
    const out: { v4?: Pool; v6?: Pool } = {};
    if (n.v4) out.v4 = { ...n.v4.pool };
    if (n.v6) out.v6 = { ...n.v6.pool };
    return out;
  }

  leases(netId: string): Map<string, Lease> {
    const n = this.nets.get(netId);
    return new Map([...(n?.leases ?? [])].map(([k, v]) => [k, structuredClone(v)]));
  }

  /**
   * Make the network's pools. `req.v4` (or `defaultV4`, docker's bridge networks always having
   * IPv4) gives an IPv4 pool, from docker's default pools when it names no subnet: the first that
   * overlaps nothing in `opts.avoid` (host routes, other networks) nor another pool. `req.v6` needs
   * a subnet. A subnet given explicitly must not overlap another network's pool.
   */
  async createPools(
    netId: string,
    req: { v4?: PoolRequest; v6?: PoolRequest },
    opts: { avoid: string[]; defaultV4?: boolean; name?: string },
  ): Promise<{ v4?: Pool; v6?: Pool }> {
    return this.withPoolLock(async () => {
      if (!ID.test(netId)) throw new NetworkError('invalid', `invalid network id ${JSON.stringify(netId)}`);
      if (this.nets.has(netId)) throw new NetworkError('conflict', `network ${netId} already has address pools`);
      const avoid: Cidr[] = [];
      for (const a of opts.avoid) {
        const c = parseCidr(a) ?? (parseIp(a) ? parseCidr(`${a}/${a.includes(':') ? 128 : 32}`) : undefined);
        if (!c) throw new NetworkError('invalid', `invalid CIDR address in avoid list: ${a}`);
        avoid.push(c);
      }
      const net: NetState = { id: netId, name: opts.name ?? netId, leases: new Map() };
      const v4req = req.v4 ?? (opts.defaultV4 ? {} : undefined);
      if (v4req) net.v4 = this.makePool('v4', v4req, avoid);
      if (req.v6) net.v6 = this.makePool('v6', req.v6, avoid);
      this.nets.set(netId, net);
      try {
        await this.persist(net, () => this.nets.delete(netId));
      } catch (e) {
        throw new NetworkError('system', `cannot record the address pools of network ${netId} in ${this.dir}: ${(e as Error).message}`, { cause: e });
      }
      return this.pools(netId)!;
    });
  }

  /** Forget the network's pools and leases (its file is removed). Unknown networks are a no-op. */
  async removePools(netId: string): Promise<void> {
    return this.withPoolLock(async () => {
      const net = this.nets.get(netId);
      if (!net) return;
      await this.writers.get(netId)?.idle();
      this.nets.delete(netId);
      this.writers.delete(netId);
      await rm(join(this.dir, `${netId}.json`), { force: true });
    });
  }

  /**
   * An address per pool of the network for `owner`; its existing lease if it has one. `want` asks
   * for specific addresses (docker's --ip/--ip6), which must be in the pool's subnet and range and free.
   */
  async allocate(netId: string, owner: string, want: { v4?: string; v6?: string } = {}): Promise<Lease> {
    const net = this.nets.get(netId);
    if (!net) throw new NetworkError('notfound', `network ${netId} has no address pools`);
    const existing = net.leases.get(owner);
    if (existing) return structuredClone(existing);
    if (!owner) throw new NetworkError('invalid', 'an address lease needs an owner');
    const lease: Lease = {};
    const undo: (() => void)[] = [];
    try {
      for (const f of ['v4', 'v6'] as const) {
        const p = net[f];
        const w = want[f];
        if (!p) {
          if (w) throw new NetworkError('invalid', `Invalid address ${w}: It does not belong to any of this network's subnets`);
          continue;
        }
        const { value, undo: u } = this.take(net, f, p, owner, w);
        undo.push(u);
        lease[f] = { address: formatIp({ family: p.subnet.family, value }), prefix: p.subnet.prefix, gateway: p.pool.gateway };
      }
    } catch (e) {
      for (const u of undo.reverse()) u();
      throw e;
    }
    net.leases.set(owner, lease);
    undo.push(() => net.leases.delete(owner));
    try {
      await this.persist(net, () => {
        for (const u of [...undo].reverse()) u();
      });
    } catch (e) {
      throw new NetworkError('system', `cannot record the address lease of ${owner} on network ${netId}: ${(e as Error).message}`, { cause: e });
    }
    return structuredClone(lease);
  }

  /** Give back the owner's addresses on the network (a no-op when it has none). */
  async release(netId: string, owner: string): Promise<void> {
    const net = this.nets.get(netId);
    const lease = net?.leases.get(owner);
    if (!net || !lease) return;
    net.leases.delete(owner);
    const freed: [PoolState, bigint][] = [];
    for (const f of ['v4', 'v6'] as const) {
      const a = lease[f] && parseIp(lease[f].address);
      const p = net[f];
      if (a && p && p.used.get(a.value) === owner) {
        p.used.delete(a.value);
        freed.push([p, a.value]);
      }
    }
    try {
      await this.persist(net, () => {
        net.leases.set(owner, lease);
        for (const [p, v] of freed) p.used.set(v, owner);
      });
    } catch (e) {
      throw new NetworkError('system', `cannot record the release of ${owner}'s address on network ${netId}: ${(e as Error).message}`, { cause: e });
    }
  }

  private withPoolLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.poolLock.then(fn, fn);
    this.poolLock = run.catch(() => {});
    return run;
  }

  private persist(net: NetState, undo: () => void): Promise<void> {
    let w = this.writers.get(net.id);
    if (!w) {
      w = new Writer(() => writeAtomic(join(this.dir, `${net.id}.json`), JSON.stringify(saveNet(net), null, 1) + '\n'));
      this.writers.set(net.id, w);
    }
    return w.commit(undo);
  }

  private otherPools(): Cidr[] {
    const out: Cidr[] = [];
    for (const n of this.nets.values()) {
      if (n.v4) out.push(n.v4.subnet);
      if (n.v6) out.push(n.v6.subnet);
    }
    return out;
  }

  private makePool(f: Fam, req: PoolRequest, avoid: Cidr[]): PoolState {
    const family: Family = f === 'v4' ? 4 : 6;
    const others = this.otherPools();
    let subnet: Cidr;
    if (req.subnet) {
      const c = parseCidr(req.subnet);
      if (!c) throw new NetworkError('invalid', `invalid subnet ${req.subnet}: not an address/prefix`);
      if (c.family !== family) throw new NetworkError('invalid', `invalid subnet ${req.subnet}: not an ${famName(f)} prefix`);
      // a pool needs a network address, a gateway and one more address at least (docker refuses /31 and /32 too)
      if (size(c) < 4n) throw new NetworkError('invalid', `invalid subnet ${req.subnet}: the prefix is too small to hold a gateway and an address`);
      if (others.some((o) => overlaps(o, c))) throw new NetworkError('conflict', 'Pool overlaps with other one on this address space');
      subnet = cidrOf(family, c.base, c.prefix);
    } else {
      if (f === 'v6') throw new NetworkError('invalid', 'an IPv6 network requires a subnet (--subnet with an IPv6 prefix): there is no default IPv6 pool');
      if (req.gateway || req.ipRange) throw new NetworkError('invalid', 'a gateway or ip-range requires a subnet');
      const free = defaultPools().find((d) => !avoid.some((a) => overlaps(a, d)) && !others.some((o) => overlaps(o, d)));
      if (!free) throw new NetworkError('system', 'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
      subnet = free;
    }
    let range = subnet;
    if (req.ipRange) {
      const r = parseCidr(req.ipRange);
      if (!r || r.family !== family) throw new NetworkError('invalid', `invalid ip-range ${req.ipRange}: not an ${famName(f)} address/prefix`);
      if (r.prefix < subnet.prefix || !contains(subnet, { family, value: r.base })) {
        throw new NetworkError('invalid', `no matching subnet for range ${req.ipRange}`);
      }
      range = cidrOf(family, r.base, r.prefix);
    }
    const net = subnet.base;
    const broadcast = lastAddress(subnet).value;
    // docker's default IPAM takes the gateway as the first address it hands out: the range's first
    // when there is a range (its base, unless that is the subnet's network address)
    let gateway = req.ipRange && range.base !== net ? range.base : net + 1n;
    if (req.gateway) {
      const g = parseIp(req.gateway);
      if (!g || g.family !== family) throw new NetworkError('invalid', `invalid gateway ${req.gateway}: not an ${famName(f)} address`);
      if (!contains(subnet, g)) throw new NetworkError('invalid', `no matching subnet for gateway ${req.gateway}`);
      if (g.value === net || (family === 4 && g.value === broadcast)) {
        throw new NetworkError('invalid', `failed to allocate gateway (${req.gateway}): Address already in use`);
      }
      gateway = g.value;
    }
    const pool: Pool = { subnet: formatCidr(subnet), gateway: formatIp({ family, value: gateway }) };
    if (req.ipRange) pool.ipRange = formatCidr(range);
    // the search starts after `last`: before the range's first address at first
    return { pool, subnet, range, gateway, last: range.base - 1n, used: new Map() };
  }

  private reserved(p: PoolState, v: bigint): boolean {
    // the network address (docker keeps it for IPv6 too, so the gateway is ::1), the gateway, IPv4's broadcast
    return v === p.subnet.base || v === p.gateway || (p.subnet.family === 4 && v === lastAddress(p.subnet).value);
  }

  private take(net: NetState, f: Fam, p: PoolState, owner: string, want: string | undefined): { value: bigint; undo: () => void } {
    const family = p.subnet.family;
    let value: bigint | undefined;
    if (want !== undefined) {
      const w = parseIp(want);
      if (!w || w.family !== family) throw new NetworkError('invalid', `invalid ${famName(f)} address ${JSON.stringify(want)}`);
      if (!contains(p.subnet, w)) throw new NetworkError('invalid', `Invalid address ${want}: It does not belong to any of this network's subnets`);
      if (!contains(p.range, w)) throw new NetworkError('invalid', `Invalid address ${want}: Requested address is out of range (${p.pool.ipRange})`);
      if (this.reserved(p, w.value) || p.used.has(w.value)) throw new NetworkError('conflict', 'Address already in use');
      value = w.value;
    } else {
      const n = size(p.range);
      const first = p.range.base;
      // at most used+3 addresses of the range are taken: trying one more than that finds a free one if any
      const tries = n < BigInt(p.used.size + 4) ? n : BigInt(p.used.size + 4);
      let v = p.last + 1n;
      for (let i = 0n; i < tries; i++, v++) {
        if (v >= first + n || v < first) v = first;
        if (!this.reserved(p, v) && !p.used.has(v)) {
          value = v;
          break;
        }
      }
      if (value === undefined) {
        throw new NetworkError('system', `no available ${famName(f)} addresses on this network's address pools: ${net.name} (${net.id})`);
      }
    }
    const last = p.last;
    p.used.set(value, owner);
    if (want === undefined) p.last = value;
    const taken = value;
    return {
      value,
      undo: () => {
        p.used.delete(taken);
        if (p.last === taken) p.last = last;
      },
    };
  }
}

function saveNet(n: NetState): FileShape {
  const pools: FileShape['pools'] = {};
  for (const f of ['v4', 'v6'] as const) {
    const p = n[f];
    if (!p) continue;
    pools[f] = { ...p.pool };
    if (p.last >= p.range.base) pools[f].last = formatIp({ family: p.subnet.family, value: p.last });
  }
  return { version: 1, id: n.id, name: n.name, pools, leases: Object.fromEntries(n.leases) };
}

/** A network's state from its file, checked field by field: a file berth did not write is refused. */
function loadNet(data: unknown, fileId: string): NetState {
  const o = data as Partial<FileShape> | null;
  if (!o || typeof o !== 'object' || o.version !== 1) throw new Error('not a berth IPAM file (version 1)');
  if (o.id !== fileId) throw new Error(`.id is ${JSON.stringify(o.id)}, not the file's name ${JSON.stringify(fileId)}`);
  if (typeof o.name !== 'string') throw new Error('.name is not a string');
  const net: NetState = { id: fileId, name: o.name, leases: new Map() };
  if (!o.pools || typeof o.pools !== 'object') throw new Error('.pools is not an object');
  for (const f of ['v4', 'v6'] as const) {
    const p = o.pools[f];
    if (p === undefined) continue;
    const subnet = typeof p?.subnet === 'string' ? parseCidr(p.subnet) : undefined;
    const gw = typeof p?.gateway === 'string' ? parseIp(p.gateway) : undefined;
    const family: Family = f === 'v4' ? 4 : 6;
    if (!subnet || subnet.family !== family) throw new Error(`.pools.${f}.subnet is not an ${famName(f)} prefix`);
    if (!gw || !contains(subnet, gw)) throw new Error(`.pools.${f}.gateway is not an address of ${p.subnet}`);
    const range = p.ipRange === undefined ? subnet : parseCidr(String(p.ipRange));
    if (!range || !contains(subnet, { family, value: range.base })) throw new Error(`.pools.${f}.ipRange is not a prefix within ${p.subnet}`);
    const last = p.last === undefined ? { family, value: range.base - 1n } : typeof p.last === 'string' ? parseIp(p.last) : undefined;
    if (!last || last.family !== family) throw new Error(`.pools.${f}.last is not an ${famName(f)} address`);
    const pool: Pool = { subnet: formatCidr(subnet), gateway: formatIp(gw) };
    if (p.ipRange !== undefined) pool.ipRange = formatCidr(range);
    net[f] = { pool, subnet: cidrOf(family, subnet.base, subnet.prefix), range: cidrOf(family, range.base, range.prefix), gateway: gw.value, last: last.value, used: new Map() };
  }
  if (!o.leases || typeof o.leases !== 'object') throw new Error('.leases is not an object');
  for (const [owner, lease] of Object.entries(o.leases)) {
    for (const f of ['v4', 'v6'] as const) {
      const l = (lease as Lease)?.[f];
      if (l === undefined) continue;
      const a = typeof l?.address === 'string' ? parseIp(l.address) : undefined;
      const p = net[f];
      if (!a || !p || !contains(p.subnet, a)) throw new Error(`.leases[${JSON.stringify(owner)}].${f}.address is not an address of the network's ${famName(f)} pool`);
      const holder = p.used.get(a.value);
      if (holder !== undefined) throw new Error(`.leases: ${l.address} is leased to both ${holder} and ${owner}`);
      p.used.set(a.value, owner);
    }
    net.leases.set(owner, lease as Lease);
  }
  return net;
}
