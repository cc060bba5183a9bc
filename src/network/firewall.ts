/**
 * berth's packet filtering and NAT: one nftables table (`inet berth`), never any other. The whole
 * table is rendered from the desired state and replaced in one `nft -f -` transaction, so the
 * kernel never sees half a change and berth never needs to find its old rules to delete them.
 * Changes made while a transaction is in flight are merged into the next one.
 *
 * Docker's bridge driver, in nft:
 * - published ports: DNAT of (local address | the given host address, proto, port) to the
 *   container, for packets arriving (prerouting) and for the host's own (output, 127.0.0.1
 *   included: route_localnet on the bridges lets them leave by a bridge). Lookups are maps, so
 *   a hundred ports cost one hash lookup, not a hundred rules.
 * - masquerade: a network's subnet leaving by another interface than its bridge (not internal
 *   ones); DNAT'd traffic into a bridge from 127.0.0.0/8 or (hairpin) from that bridge's subnet,
 *   so the reply comes back through the host.
 * - forward (policy accept: traffic that is not berth's is not berth's business): replies
 *   accepted; internal networks: nothing in or out of their bridge; DNAT'd traffic into a bridge
 *   accepted; otherwise nothing from one berth bridge to another.
 * IPv6 DNAT cannot serve [::1]: the kernel has no route_localnet for IPv6 (docker uses its proxy).
 */
import { formatCidr, formatIp } from './cidr.ts';
import { NetworkError } from './errors.ts';
import { enableForwarding } from './sysctl.ts';
import { NFT, checkCidr, checkIfname, checkIp, run, words } from './tools.ts';

export interface NetworkRules {
  bridge: string;
  /** CIDRs, IPv4 and/or IPv6 */
  subnets: string[];
  internal: boolean;
}

export interface PortRule {
  proto: 'tcp' | 'udp';
  /** '' or '0.0.0.0' or '::': every local address (of the container address's family) */
  hostIp: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
  bridge: string;
}

export interface FirewallOptions {
  /** the name of the inet table, `berth` unless told (tests use their own) */
  table?: string;
}

interface State {
  present: boolean;
  networks: Map<string, NetworkRules>;
  ports: Map<string, PortRule[]>;
}

interface Job {
  op: (s: State) => void;
  resolve: () => void;
  reject: (e: Error) => void;
}

const ANY = new Set(['', '0.0.0.0', '::']);

/** A port rule's place in the maps: which map, its key; two rules with one key clash. */
function portKey(p: PortRule): { map: string; key: string; value: string } {
  const container = checkIp(p.containerIp, 'port');
  const value = `${formatIp(container)} . ${p.containerPort}`;
  if (ANY.has(p.hostIp)) return { map: `any${container.family}`, key: `${p.proto} . ${p.hostPort}`, value };
  return { map: `host${container.family}`, key: `${formatIp(checkIp(p.hostIp, 'port'))} . ${p.proto} . ${p.hostPort}`, value };
}

function checkNetwork(n: NetworkRules): NetworkRules {
  checkIfname(n.bridge, 'network bridge');
  const subnets = n.subnets.map((s) => formatCidr(checkCidr(s, `network ${n.bridge}: subnet`)));
  return { bridge: n.bridge, subnets, internal: Boolean(n.internal) };
}

function checkPorts(owner: string, rules: PortRule[]): PortRule[] {
  const seen = new Map<string, string>();
  return rules.map((p, i) => {
    const where = `ports of ${owner}[${i}]`;
    if (p.proto !== 'tcp' && p.proto !== 'udp') throw new NetworkError('invalid', `${where}: invalid protocol ${JSON.stringify(p.proto)}: tcp or udp`);
    for (const [k, v] of [['hostPort', p.hostPort], ['containerPort', p.containerPort]] as const) {
      if (!Number.isInteger(v) || v < 1 || v > 65535) throw new NetworkError('invalid', `${where}: invalid ${k} ${v}: 1 to 65535`);
    }
    checkIfname(p.bridge, `${where}: bridge`);
    const cfam = checkIp(p.containerIp, `${where}: containerIp`).family;
    if (!ANY.has(p.hostIp)) {
      const host = checkIp(p.hostIp, `${where}: hostIp`);
      if (host.family !== cfam) throw new NetworkError('invalid', `${where}: host address ${p.hostIp} and container address ${p.containerIp} are of different IP versions`);
      if (host.family === 6 && host.value === 1n) throw new NetworkError('invalid', `${where}: [::1] cannot be forwarded to a container by the kernel (IPv6 has no route_localnet)`);
    }
    const k = portKey(p);
    const prev = seen.get(`${k.map} ${k.key}`);
    if (prev !== undefined && prev !== k.value) throw new NetworkError('invalid', `${where}: host port ${p.hostPort}/${p.proto} is given twice, to different container addresses`);
    seen.set(`${k.map} ${k.key}`, k.value);
    return { ...p };
  });
}

function clone(s: State): State {
  return { present: s.present, networks: new Map(s.networks), ports: new Map(s.ports) };
}

const q = (name: string): string => `"${name}"`;
const set = (items: string[]): string => (items.length === 1 ? items[0]! : `{ ${items.join(', ')} }`);

/** The published ports as the four DNAT maps' elements: map name → key → value. */
function portMaps(s: State): Map<string, Map<string, string>> {
  const maps = new Map<string, Map<string, string>>([['any4', new Map()], ['host4', new Map()], ['any6', new Map()], ['host6', new Map()]]);
  for (const owner of [...s.ports.keys()].sort()) {
    for (const p of s.ports.get(owner)!) {
      const k = portKey(p);
      maps.get(k.map)!.set(k.key, k.value);
    }
  }
  return maps;
}

/**
 * The element changes that turn maps `from` into `to`, as nft commands; undefined when there are
 * none. Elements change in place, with no chain touched: a commit of a few milliseconds, where
 * replacing the table (its hooked chains) costs ~10–15 ms.
 */
function elementDiff(table: string, from: Map<string, Map<string, string>>, to: Map<string, Map<string, string>>): string | undefined {
  const lines: string[] = [];
  for (const [name, want] of to) {
    const have = from.get(name) ?? new Map<string, string>();
    const gone = [...have].filter(([k, v]) => want.get(k) !== v).map(([k]) => k);
    const added = [...want].filter(([k, v]) => have.get(k) !== v).map(([k, v]) => `${k} : ${v}`);
    if (gone.length) lines.push(`delete element inet ${table} ${name} { ${gone.join(', ')} }`);
    if (added.length) lines.push(`add element inet ${table} ${name} { ${added.join(', ')} }`);
  }
  return lines.length ? lines.join('\n') + '\n' : undefined;
}

function renderState(table: string, s: State): string {
  const maps = portMaps(s);
  const types: Record<string, string> = {
    any4: 'inet_proto . inet_service : ipv4_addr . inet_service',
    host4: 'ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service',
    any6: 'inet_proto . inet_service : ipv6_addr . inet_service',
    host6: 'ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service',
  };
  const out: string[] = [`table inet ${table} {`];
  for (const [name, m] of maps) {
    out.push(`\tmap ${name} {`, `\t\ttype ${types[name]}`);
    if (m.size > 0) out.push(`\t\telements = { ${[...m].map(([k, v]) => `${k} : ${v}`).join(',\n\t\t\t     ')} }`);
    out.push('\t}');
  }
  const dnat = [
    'meta nfproto ipv4 fib daddr type local dnat ip to meta l4proto . th dport map @any4',
    'meta nfproto ipv4 dnat ip to ip daddr . meta l4proto . th dport map @host4',
    'meta nfproto ipv6 fib daddr type local dnat ip6 to meta l4proto . th dport map @any6',
    'meta nfproto ipv6 dnat ip6 to ip6 daddr . meta l4proto . th dport map @host6',
  ];
  out.push('\tchain prerouting {', '\t\ttype nat hook prerouting priority dstnat; policy accept;', ...dnat.map((r) => `\t\t${r}`), '\t}');
  // the host's own packets: ::1 cannot leave the host, so it is never rewritten
  out.push('\tchain output {', '\t\ttype nat hook output priority -100; policy accept;',
    ...dnat.map((r) => `\t\t${r.replace('meta nfproto ipv6 fib', 'ip6 daddr != ::1 fib')}`), '\t}');

  const nets = [...s.networks.values()].sort((a, b) => a.bridge.localeCompare(b.bridge));
  const post: string[] = [];
  for (const n of nets) {
    const v4 = n.subnets.filter((c) => !c.includes(':'));
    const v6 = n.subnets.filter((c) => c.includes(':'));
    if (!n.internal) {
      post.push(`ct status dnat oifname ${q(n.bridge)} ip saddr ${set(['127.0.0.0/8', ...v4])} masquerade`);
      if (v6.length) post.push(`ct status dnat oifname ${q(n.bridge)} ip6 saddr ${set(v6)} masquerade`);
      if (v4.length) post.push(`oifname != ${q(n.bridge)} ip saddr ${set(v4)} masquerade`);
      if (v6.length) post.push(`oifname != ${q(n.bridge)} ip6 saddr ${set(v6)} masquerade`);
    }
  }
  out.push('\tchain postrouting {', '\t\ttype nat hook postrouting priority srcnat; policy accept;', ...post.map((r) => `\t\t${r}`), '\t}');

  const fwd = ['ct state established,related accept'];
  for (const n of nets.filter((x) => x.internal)) {
    fwd.push(`iifname ${q(n.bridge)} oifname != ${q(n.bridge)} drop`, `oifname ${q(n.bridge)} iifname != ${q(n.bridge)} drop`);
  }
  const open = nets.filter((x) => !x.internal).map((x) => q(x.bridge));
  if (open.length) fwd.push(`ct status dnat oifname ${set(open)} accept`);
  for (const n of nets) {
    const others = nets.filter((x) => x !== n).map((x) => q(x.bridge));
    if (others.length) fwd.push(`iifname ${q(n.bridge)} oifname ${set(others)} drop`);
  }
  out.push('\tchain forward {', '\t\ttype filter hook forward priority filter; policy accept;', ...fwd.map((r) => `\t\t${r}`), '\t}');
  out.push('}');
  return out.join('\n') + '\n';
}

export class Firewall {
  readonly table: string;
  private applied: State = { present: false, networks: new Map(), ports: new Map() };
  /** changes waiting for the next transaction */
  private queue: Job[] = [];
  /** changes in the transaction under way */
  private inflight: Job[] = [];
  private running = false;
  private count = 0;
  /** the text of the last transaction that went through: an unchanged table is not sent again */
  private inKernel: string | undefined;
  /** the table in the kernel without its port elements, and those elements: a change of ports only is an element update */
  private inKernelStructure: string | undefined;
  private inKernelMaps: Map<string, Map<string, string>> | undefined;

  constructor(opts: FirewallOptions = {}) {
    this.table = opts.table ?? 'berth';
    checkIfname(this.table, 'firewall table');
  }

  /** How many nft transactions have run (concurrent changes share one). */
  get transactions(): number {
    return this.count;
  }

  /** The network's masquerade, isolation and (if internal) confinement rules; replaces its previous ones. */
  setNetwork(n: NetworkRules): Promise<void> {
    return this.change(() => {
      const c = checkNetwork(n);
      return (s) => { s.present = true; s.networks.set(c.bridge, c); };
    });
  }

  removeNetwork(bridge: string): Promise<void> {
    return this.change(() => (s) => { s.present = true; s.networks.delete(bridge); });
  }

  /**
   * The published ports of `owner` (a container), replacing its previous ones. A host port another
   * owner has is refused (conflict) before anything is applied.
   */
  setPorts(owner: string, rules: PortRule[]): Promise<void> {
    return this.change(() => {
      const c = checkPorts(owner, rules);
      const taken = new Map<string, string>();
      for (const [o, ps] of this.desired().ports) if (o !== owner) for (const p of ps) { const k = portKey(p); taken.set(`${k.map} ${k.key}`, o); }
      for (const p of c) {
        const k = portKey(p);
        const other = taken.get(`${k.map} ${k.key}`);
        if (other !== undefined) throw new NetworkError('conflict', `host port ${ANY.has(p.hostIp) ? '' : `${p.hostIp}:`}${p.hostPort}/${p.proto} is already published by ${other}`);
      }
      return (s) => { s.present = true; if (c.length) s.ports.set(owner, c); else s.ports.delete(owner); };
    });
  }

  removePorts(owner: string): Promise<void> {
    return this.change(() => (s) => { s.present = true; s.ports.delete(owner); });
  }

  /** Replaces the whole state at once (the daemon's start, from its records). */
  sync(networks: NetworkRules[], ports: Map<string, PortRule[]>): Promise<void> {
    return this.change(() => {
      const ns = new Map(networks.map((n) => { const c = checkNetwork(n); return [c.bridge, c]; }));
      const ps = new Map([...ports].filter(([, r]) => r.length > 0).map(([o, r]) => [o, checkPorts(o, r)]));
      const taken = new Map<string, string>();
      for (const [o, r] of ps) {
        for (const p of r) {
          const k = portKey(p);
          const other = taken.get(`${k.map} ${k.key}`);
          if (other !== undefined) throw new NetworkError('conflict', `host port ${p.hostPort}/${p.proto} is published by both ${other} and ${o}`);
          taken.set(`${k.map} ${k.key}`, o);
        }
      }
      return (s) => { s.present = true; s.networks = new Map(ns); s.ports = new Map(ps); };
    });
  }

  /** Deletes the table (if present) and forgets the state. */
  destroy(): Promise<void> {
    return this.change(() => (s) => { s.present = false; s.networks = new Map(); s.ports = new Map(); });
  }

  /** The table as it is (or, with changes in flight, is about to be) in the kernel. */
  render(): string {
    return renderState(this.table, this.desired());
  }

  private desired(): State {
    const s = clone(this.applied);
    for (const j of [...this.inflight, ...this.queue]) j.op(s);
    return s;
  }

  /** Queues a change (checked now, against the state it will apply to) and resolves once it is in the kernel. */
  private change(prepare: () => (s: State) => void): Promise<void> {
    let op: (s: State) => void;
    try {
      op = prepare();
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ op, resolve, reject });
      if (!this.running) void this.pump();
    });
  }

  private async pump(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const jobs = this.queue;
        this.queue = [];
        this.inflight = jobs;
        const next = clone(this.applied);
        for (const j of jobs) j.op(next);
        try {
          await this.apply(next);
          this.applied = next;
          this.inflight = [];
          for (const j of jobs) j.resolve();
        } catch (e) {
          if (jobs.length === 1) {
            this.inflight = [];
            jobs[0]!.reject(e as Error);
            continue;
          }
          // one change spoilt the merged transaction: each on its own, so only its caller fails
          for (const j of jobs) {
            const one = clone(this.applied);
            j.op(one);
            try {
              await this.apply(one);
              this.applied = one;
              j.resolve();
            } catch (e1) {
              j.reject(e1 as Error);
            }
          }
          this.inflight = [];
        }
      }
    } finally {
      this.inflight = [];
      this.running = false;
    }
  }

  private async apply(s: State): Promise<void> {
    if (s.present && s.networks.size > 0) {
      await enableForwarding(4);
      if ([...s.networks.values()].some((n) => n.subnets.some((c) => c.includes(':')))) await enableForwarding(6);
    }
    // `table {}` first so that the delete never fails on an absent table
    // a table with nothing in it is no table: a daemon with no network in use leaves none
    const present = s.present && (s.networks.size > 0 || s.ports.size > 0);
    const text = `table inet ${this.table} {}\ndelete table inet ${this.table}\n${present ? renderState(this.table, s) : ''}`;
    // only published ports changed: their map elements, in place
    const structure = present ? renderState(this.table, { ...s, ports: new Map() }) : undefined;
    if (structure !== undefined && this.inKernel !== undefined && structure === this.inKernelStructure && this.inKernelMaps) {
      const maps = portMaps(s);
      const diff = elementDiff(this.table, this.inKernelMaps, maps);
      if (diff === undefined) return;
      this.count++;
      const r = await run(`updating nftables table inet ${this.table}`, [NFT, '-f', '-'], diff);
      if (r.code === 0) {
        this.inKernel = text;
        this.inKernelMaps = maps;
        return;
      }
      // the kernel's table is not what we think: replace it whole below
    }
    // a table replaced costs ~10–15 ms here (its hooked chains go and come: RCU grace periods); a
    // container without ports, or a network set again as it was, costs nothing
    if (text === this.inKernel) return;
    this.count++;
    this.inKernel = undefined;
    const r = await run(`applying nftables table inet ${this.table}`, [NFT, '-f', '-'], text);
    if (r.code !== 0) throw new NetworkError('system', `applying nftables table inet ${this.table}: nft: ${words(r)}`);
    this.inKernel = text;
    this.inKernelStructure = structure;
    this.inKernelMaps = present ? portMaps(s) : undefined;
  }
}
