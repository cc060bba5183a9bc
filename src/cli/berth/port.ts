// berth port: a container's published ports from its inspect document, as docker 20.10 prints them.
import { DaemonError } from './client.ts';
import type { Command } from './command.ts';
import { wantArgs } from './command.ts';

type PortMap = Record<string, { HostIp: string; HostPort: string }[] | null>;

/** Go's order of `from` keys is random: berth sorts them, by port number then protocol. */
function byPort(a: string, b: string): number {
  const [pa, qa] = a.split('/');
  const [pb, qb] = b.split('/');
  return Number(pa) - Number(pb) || (qa! < qb! ? -1 : qa! > qb! ? 1 : 0);
}

/** strconv.ParseUint(s, 10, 16), with Go's errors */
function uint16(s: string): number {
  if (!/^\d+$/.test(s)) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(s)}: invalid syntax`);
  const n = Number(s);
  if (n > 65535) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(s)}: value out of range`);
  return n;
}

/** nat.NewPort: the key of a port (`80/tcp`) or range (`80-81/tcp`), numbers normalised */
function natPort(proto: string, port: string): string {
  if (!port.includes('-')) return `${uint16(port)}/${proto}`;
  const [a, b] = port.split('-') as [string, string];
  const start = uint16(a);
  const end = uint16(b);
  if (end < start) throw new Error(`Invalid range specified for the Port: ${port}`);
  return start === end ? `${start}/${proto}` : `${start}-${end}/${proto}`;
}

export const portCommand: Command = {
  name: 'container port',
  aliases: ['port'],
  usage: 'CONTAINER [PRIVATE_PORT[/PROTO]]',
  summary: 'List port mappings or a specific mapping for the container',
  flags: [],
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 1, 2);
    const [name, spec] = p.rest as [string, string | undefined];
    let c: { NetworkSettings?: { Ports?: PortMap | null } };
    try {
      c = await (await ctx.client()).get(`/containers/${encodeURIComponent(name)}/json`);
    } catch (e) {
      // docker's client words a 404 of inspect itself (objectNotFoundError)
      if (!(e instanceof DaemonError) || e.status !== 404) throw e;
      ctx.stderr.write(`Error: No such container: ${name}\n`);
      return 1;
    }
    const ports = c.NetworkSettings?.Ports ?? {};
    if (spec === undefined) {
      for (const from of Object.keys(ports).sort(byPort)) {
        for (const f of ports[from] ?? []) ctx.stdout.write(`${from} -> ${f.HostIp}:${f.HostPort}\n`);
      }
      return 0;
    }
    const slash = spec.indexOf('/');
    const port = slash >= 0 && slash < spec.length - 1 ? spec.slice(0, slash) : spec.replace(/\/$/, '');
    const proto = slash >= 0 && slash < spec.length - 1 ? spec.slice(slash + 1) : 'tcp';
    let key: string;
    try {
      key = natPort(proto, port);
    } catch (e) {
      ctx.stderr.write(`${(e as Error).message}\n`);
      return 1;
    }
    const frontends = ports[key];
    if (frontends) {
      for (const f of frontends) ctx.stdout.write(`${f.HostIp}:${f.HostPort}\n`);
      return 0;
    }
    ctx.stderr.write(`Error: No public port '${port}/${proto}' published for ${name}\n`);
    return 1;
  },
};
