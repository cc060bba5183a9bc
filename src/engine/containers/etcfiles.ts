/**
 * The files docker bind-mounts on /etc/hostname, /etc/hosts and /etc/resolv.conf, and the checks
 * of what shapes them (HostConfig.ExtraHosts, Dns, DnsSearch, DnsOptions), as dockerd 20.10 and
 * its libnetwork make them (sandbox_dns_unix.go, etchosts, resolvconf):
 *
 * - hosts: docker's loopback records, then one `IP\tNAME` line per ExtraHosts entry. With the
 *   host's network and no ExtraHosts, a copy of the host's /etc/hosts; with ExtraHosts, docker
 *   does not start from the host's file (so an entry can override one of the host's names). A
 *   network of the container's own without a bridge has no address, so no line names the
 *   container's hostname (docker's `--network none` has none either).
 * - resolv.conf: with any of Dns/DnsSearch/DnsOptions, rebuilt from the host's: its nameservers,
 *   search domains and options, each replaced by the given ones when given (a search of `.`
 *   writes no search line); other lines are dropped, as docker's resolvconf.Build does. Without
 *   them, the host's network gets a copy; a network of its own, the host's with the nameservers
 *   on the host's loopback removed (unreachable from another namespace).
 * - sharing another container's network: copies of that container's files (docker refuses Dns,
 *   ExtraHosts and a hostname with it; DnsSearch and DnsOptions it ignores).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';

import { InvalidParameterError } from '../errors.ts';
import type { HostConfig } from './types.ts';

/** docker's name for the host's address as seen from the bridge (opts.HostGatewayName) */
const HOST_GATEWAY = 'host-gateway';

const DEFAULT_HOSTS = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';

/** docker's opts.validateDomain (a search domain): letters, digits and inner dashes per label, a final dot allowed */
const DOMAIN = /^((?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*)\.?\s*$/;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

/** Go's net.ParseIP (after docker's TrimSpace): an IPv4 or IPv6 address, no zone */
const isAddress = (s: string): boolean => isIP(s.trim()) !== 0 && !s.includes('%');

const list = (v: string[] | null | undefined): string[] => v ?? [];

/**
 * dockerd's checks of HostConfig's name resolution at create (validateHostConfig's
 * ValidateExtraHost, with its messages), plus what its CLI checks and a raw API client could
 * skip: Dns entries are IP addresses, DnsSearch entries domains, and no entry holds a line
 * break (it would write lines of its own into the container's /etc/hosts or resolv.conf).
 */
export function checkResolution(hc: HostConfig): void {
  list(hc.ExtraHosts).forEach((entry, i) => {
    const where = `HostConfig.ExtraHosts[${i}]`;
    // an IPv6 address holds colons: only the first one splits
    const at = entry.indexOf(':');
    if (at <= 0) throw new InvalidParameterError(`bad format for add-host: ${JSON.stringify(entry)} (${where}: want NAME:IP)`);
    const name = entry.slice(0, at);
    const ip = entry.slice(at + 1);
    if (CONTROL.test(name)) throw new InvalidParameterError(`bad format for add-host: ${JSON.stringify(entry)} (${where}: the name holds a control character)`);
    if (ip !== HOST_GATEWAY && !isAddress(ip)) throw new InvalidParameterError(`invalid IP address in add-host: ${JSON.stringify(ip)} (${where})`);
  });
  list(hc.Dns).forEach((d, i) => {
    if (!isAddress(d)) throw new InvalidParameterError(`HostConfig.Dns[${i}]: ${JSON.stringify(d)} is not an ip address`);
  });
  list(hc.DnsSearch).forEach((d, i) => {
    const t = d.replace(/^ +| +$/g, '');
    if (t !== '.' && (!/[a-zA-Z]/.test(t) || CONTROL.test(t) || !DOMAIN.test(t) || (DOMAIN.exec(t)?.[1]?.length ?? 255) >= 255)) {
      throw new InvalidParameterError(`HostConfig.DnsSearch[${i}]: ${JSON.stringify(d)} is not a valid domain`);
    }
  });
  list(hc.DnsOptions).forEach((o, i) => {
    if (CONTROL.test(o)) throw new InvalidParameterError(`HostConfig.DnsOptions[${i}]: ${JSON.stringify(o)} holds a control character`);
  });
}

/** resolv.conf's lines without their `#` comments (docker's getLines) */
const lines = (content: string): string[] => content.split('\n').map((l) => (l.includes('#') ? l.slice(0, l.indexOf('#')) : l));

/** docker's resolvconf.GetNameservers: the addresses of the `nameserver` lines */
export function nameservers(content: string): string[] {
  return lines(content).map((l) => /^\s*nameserver\s+(\S+)\s*$/.exec(l)?.[1]).filter((a): a is string => a !== undefined && isIP(a.split('%')[0]!) !== 0);
}

/** docker's GetSearchDomains / GetOptions: the words of the last such line */
function lastWords(content: string, keyword: 'search' | 'options'): string[] {
  let out: string[] = [];
  for (const l of lines(content)) {
    const m = new RegExp(`^\\s*${keyword}(\\s.*)?$`).exec(l);
    if (m) out = (m[1] ?? '').split(/\s+/).filter(Boolean);
  }
  return out;
}

/** docker's resolvconf.Build: search, nameservers, options */
function buildResolvConf(dns: string[], search: string[], options: string[]): string {
  let out = '';
  if (search.length > 0 && search.join(' ').trim() !== '.') out += `search ${search.join(' ')}\n`;
  for (const d of dns) out += `nameserver ${d}\n`;
  if (options.length > 0 && options.join(' ').trim() !== '') out += `options ${options.join(' ')}\n`;
  return out;
}

const readOr = (p: string | undefined): Promise<string | undefined> => (p ? readFile(p, 'utf8').catch(() => undefined) : Promise.resolve(undefined));

/**
 * The host's resolv.conf a namespace of the container's own starts from (docker's
 * resolvconf.Path): systemd-resolved's stub, 127.0.0.53 alone, means its upstream file.
 */
async function hostResolvConf(): Promise<string | undefined> {
  const etc = await readOr('/etc/resolv.conf');
  if (etc !== undefined) {
    const ns = nameservers(etc);
    if (ns.length === 1 && ns[0] === '127.0.0.53') return (await readOr('/run/systemd/resolve/resolv.conf')) ?? etc;
  }
  return etc;
}

export interface EtcFiles { hostname: string; hosts: string; resolvConf: string }

/** Where the container's network is: its own namespace, the host's, or another container's (its files). */
export interface EtcNetwork {
  host: boolean;
  from?: { hosts?: string; resolvConf?: string };
  /** the container's own addresses on its network (a line naming its hostname) */
  addresses?: string[];
  /** Config.Domainname: that line names the FQDN first, as libnetwork's updateHostsFile does */
  domainname?: string;
  /** a user network's DNS server (berthd's, on the gateway): the only nameserver */
  dnsServer?: string;
  /** what `host-gateway` in ExtraHosts stands for: the default bridge's address */
  hostGateway?: string;
}

/** Writes hostname, hosts and resolv.conf in `dir` (the container's directory) for a container of HostConfig `hc`. */
export async function writeEtcFiles(dir: string, hostname: string, hc: HostConfig, net: EtcNetwork): Promise<EtcFiles> {
  const files = { hostname: join(dir, 'hostname'), hosts: join(dir, 'hosts'), resolvConf: join(dir, 'resolv.conf') };
  await writeFile(files.hostname, `${hostname}\n`, { mode: 0o644 });

  let hosts: string | undefined;
  const extra = list(hc.ExtraHosts);
  if (net.from) hosts = await readOr(net.from.hosts);
  else if (net.host && extra.length === 0) hosts = await readOr('/etc/hosts');
  if (hosts === undefined) {
    hosts = DEFAULT_HOSTS;
    for (const e of extra) {
      let ip = e.slice(e.indexOf(':') + 1);
      if (ip === HOST_GATEWAY) {
        if (!net.hostGateway) throw new InvalidParameterError(`unable to derive the IP value for host-gateway: the default bridge network has no address yet`);
        ip = net.hostGateway;
      }
      hosts += `${ip}\t${e.slice(0, e.indexOf(':'))}\n`;
    }
    // libnetwork's updateHostsFile: the FQDN and the bare name when the name has a domain
    const fqdn = net.domainname ? `${hostname}.${net.domainname}` : hostname;
    const dot = fqdn.indexOf('.');
    const names = dot > 0 ? `${fqdn} ${fqdn.slice(0, dot)}` : hostname;
    for (const a of net.addresses ?? []) hosts += `${a}\t${names}\n`;
  }
  await writeFile(files.hosts, hosts, { mode: 0o644 });

  const dns = list(hc.Dns);
  const search = list(hc.DnsSearch);
  const options = list(hc.DnsOptions);
  let resolv = net.from ? await readOr(net.from.resolvConf) : undefined;
  if (resolv === undefined) {
    const base = (net.host ? await readOr('/etc/resolv.conf') : await hostResolvConf()) ?? '';
    if (net.dnsServer) {
      // docker's embedded DNS: the container asks berthd, which forwards other names (to --dns ones too: not yet)
      resolv = buildResolvConf([net.dnsServer], search.length > 0 ? search : lastWords(base, 'search'), options.length > 0 ? options : lastWords(base, 'options'));
    } else if (dns.length > 0 || search.length > 0 || options.length > 0) {
      resolv = buildResolvConf(dns.length > 0 ? dns : nameservers(base), search.length > 0 ? search : lastWords(base, 'search'), options.length > 0 ? options : lastWords(base, 'options'));
    } else if (net.host) {
      resolv = base;
    } else {
      // a stub resolver on the host's loopback is not reachable from a network namespace of the container's own
      resolv = base.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1)/.test(l)).join('\n');
    }
  }
  await writeFile(files.resolvConf, resolv, { mode: 0o644 });
  return files;
}
