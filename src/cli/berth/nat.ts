/**
 * Port specs as docker 20.10's CLI reads them (go-connections/nat v0.4.0, vendored by docker/cli
 * 20.10): `-p [IP:][HOSTPORT:]CPORT[/PROTO]` with ranges, `--expose PORT[-END][/PROTO]`, and the
 * `80/tcp` keys of the API's PortBindings / ExposedPorts / NetworkSettings.Ports. The messages are
 * docker's, capitals included, since users and scripts compare them.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

/** Go's strconv.ParseUint(s, 10, 16), with its errors. */
function parseUint16(s: string): number {
  if (!/^[0-9]+$/.test(s)) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(s)}: invalid syntax`);
  const n = Number(s);
  if (n > 65535) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(s)}: value out of range`);
  return n;
}

/** nat.ParsePortRange: `80` or `8000-9000` (anything after a second `-` is ignored, as in Go). */
export function parsePortRange(ports: string): [number, number] {
  if (ports === '') throw new Error('Empty string specified for ports.');
  if (!ports.includes('-')) {
    const n = parseUint16(ports);
    return [n, n];
  }
  const parts = ports.split('-');
  const start = parseUint16(parts[0]!);
  const end = parseUint16(parts[1]!);
  if (end < start) throw new Error(`Invalid range specified for the Port: ${ports}`);
  return [start, end];
}

/** nat.SplitProtoPort: `80/udp` → ['udp', '80']; no protocol is tcp; nothing before the slash is ['', '']. */
export function splitProtoPort(raw: string): [string, string] {
  const parts = raw.split('/');
  if (raw === '' || parts[0] === '') return ['', ''];
  if (parts.length === 1) return ['tcp', raw];
  if (parts[1] === '') return ['tcp', parts[0]!];
  return [parts[1]!, parts[0]!];
}

/** nat.NewPort: the key `80/tcp` or `80-81/tcp`, numbers normalised; an empty port is 0. */
export function newPort(proto: string, port: string): string {
  const [start, end] = port === '' ? [0, 0] : parsePortRange(port);
  return start === end ? `${start}/${proto}` : `${start}-${end}/${proto}`;
}

/** Go's net.SplitHostPort, for `IP + ":"`: strips an IPv6 address's brackets. */
function splitHost(hostport: string): string {
  const fail = (why: string): never => {
    throw new Error(`address ${hostport}: ${why}`);
  };
  const i = hostport.lastIndexOf(':');
  if (i < 0) fail('missing port in address');
  let host: string;
  let j = 0;
  let k = 0;
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    if (end < 0) fail("missing ']' in address");
    if (end + 1 === hostport.length) fail('missing port in address');
    if (end + 1 !== i) fail(hostport[end + 1] === ':' ? 'too many colons in address' : 'missing port in address');
    host = hostport.slice(1, end);
    j = 1;
    k = end + 1;
  } else {
    host = hostport.slice(0, i);
    if (host.includes(':')) fail('too many colons in address');
  }
  if (hostport.slice(j).includes('[')) fail("unexpected '[' in address");
  if (hostport.slice(k).includes(']')) fail("unexpected ']' in address");
  return host;
}

/** Go's net.ParseIP accepts no zone and no leading zeros in IPv4 (node agrees on the latter). */
export const isGoIP = (s: string): boolean => isIPv4(s) || (isIPv6(s) && !s.includes('%'));

/** nat's splitParts: the last two `:`-fields are the ports, everything before them the IP. */
function splitParts(raw: string): [string, string, string] {
  const parts = raw.split(':');
  const n = parts.length;
  if (n === 1) return ['', '', parts[0]!];
  if (n === 2) return ['', parts[0]!, parts[1]!];
  return [parts.slice(0, n - 2).join(':'), parts[n - 2]!, parts[n - 1]!];
}

export interface PortMapping {
  port: string;
  binding: PortBinding;
}

/** nat.ParsePortSpec: one `-p` value, one mapping per container port of its range. */
export function parsePortSpec(raw: string): PortMapping[] {
  const [rawIP, hostPort0, containerPort0] = splitParts(raw);
  const [proto, containerPort] = splitProtoPort(containerPort0);
  let ip: string;
  try {
    ip = splitHost(`${rawIP}:`);
  } catch (e) {
    throw new Error(`Invalid ip address ${rawIP}: ${(e as Error).message}`);
  }
  if (ip !== '' && !isGoIP(ip)) throw new Error(`Invalid ip address: ${ip}`);
  if (containerPort === '') throw new Error(`No port specified: ${raw}<empty>`);
  let start: number;
  let end: number;
  try {
    [start, end] = parsePortRange(containerPort);
  } catch {
    throw new Error(`Invalid containerPort: ${containerPort}`);
  }
  let hostStart = 0;
  let hostEnd = 0;
  if (hostPort0 !== '') {
    try {
      [hostStart, hostEnd] = parsePortRange(hostPort0);
    } catch {
      throw new Error(`Invalid hostPort: ${hostPort0}`);
    }
    // a host range for one container port is the range to pick a free port from
    if (end - start !== hostEnd - hostStart && end !== start) {
      throw new Error(`Invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort0}`);
    }
  }
  if (!['tcp', 'udp', 'sctp'].includes(proto.toLowerCase())) throw new Error(`Invalid proto: ${proto}`);
  const out: PortMapping[] = [];
  for (let i = 0; i <= end - start; i++) {
    let hostPort = hostPort0 === '' ? '' : String(hostStart + i);
    if (start === end && hostStart !== hostEnd) hostPort = `${hostPort}-${hostEnd}`;
    out.push({ port: newPort(proto.toLowerCase(), String(start + i)), binding: { HostIp: ip, HostPort: hostPort } });
  }
  return out;
}

/**
 * docker's convertToStandardNotation: the long form `target=80,published=8080,protocol=udp`
 * as `8080:80/udp`; other values as they are.
 */
export function standardNotation(spec: string): string {
  if (!spec.includes('=')) return spec;
  const params: Record<string, string> = { protocol: 'tcp' };
  for (const param of spec.split(',')) {
    const kv = param.split('=');
    if (kv.length < 2) throw new Error(`invalid publish opts format (should be name=value but got '${param}')`);
    params[kv[0]!] = kv[1]!;
  }
  return `${params.published ?? ''}:${params.target ?? ''}/${params.protocol}`;
}

/** Go marshals a map with its keys sorted: so does berth, for the same bytes on the wire. */
function sortedKeys<T>(m: Map<string, T>): Record<string, T> {
  return Object.fromEntries([...m.keys()].sort().map((k) => [k, m.get(k)!]));
}

export interface PublishedPorts {
  /** Config.ExposedPorts: every published and exposed port */
  exposed: Record<string, Record<string, never>>;
  /** HostConfig.PortBindings */
  bindings: Record<string, PortBinding[]>;
}

/** nat.ParsePortSpecs of `-p` values, then `--expose` values merged in, as docker's parse() does. */
export function publishedPorts(publish: readonly string[], expose: readonly string[]): PublishedPorts {
  const exposed = new Map<string, Record<string, never>>();
  const bindings = new Map<string, PortBinding[]>();
  for (const spec of publish) {
    for (const m of parsePortSpec(standardNotation(spec))) {
      exposed.set(m.port, {});
      bindings.set(m.port, [...(bindings.get(m.port) ?? []), m.binding]);
    }
  }
  for (const e of expose) {
    if (e.includes(':')) throw new Error(`invalid port format for --expose: ${e}`);
    const [proto, port] = splitProtoPort(e);
    let start: number;
    let end: number;
    try {
      [start, end] = parsePortRange(port);
    } catch (err) {
      throw new Error(`invalid range format for --expose: ${e}, error: ${(err as Error).message}`);
    }
    for (let i = start; i <= end; i++) exposed.set(newPort(proto, String(i)), {});
  }
  return { exposed: sortedKeys(exposed), bindings: sortedKeys(bindings) };
}
