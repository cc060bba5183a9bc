// berth port: a container's published ports from its inspect document, as docker 20.10 prints them.
import { DaemonError } from './client.ts';
import type { Command } from './command.ts';
import { wantArgs } from './command.ts';
import { newPort } from './nat.ts';

export type PortMap = Record<string, { HostIp: string; HostPort: string }[] | null>;

/** Go's order of `from` keys is random: berth sorts them, by port number then protocol. */
function byPort(a: string, b: string): number {
  const [pa, qa] = a.split('/');
  const [pb, qb] = b.split('/');
  return parseInt(pa!, 10) - parseInt(pb!, 10) || (qa! < qb! ? -1 : qa! > qb! ? 1 : 0);
}

/**
 * What `port` prints for a container's NetworkSettings.Ports: every mapping as `80/tcp ->
 * 0.0.0.0:8080`, or those of one `PORT[/PROTO]` as `0.0.0.0:8080`; `error` is docker's message.
 */
export function portOutput(ports: PortMap, name: string, spec?: string): { out: string; error?: string } {
  if (spec === undefined) {
    const lines = Object.keys(ports).sort(byPort).flatMap((from) => (ports[from] ?? []).map((f) => `${from} -> ${f.HostIp}:${f.HostPort}\n`));
    return { out: lines.join('') };
  }
  // docker's split: `80/udp`; `80/` keeps its slash in the port, which then is no number
  const slash = spec.indexOf('/');
  const port = slash >= 0 && slash < spec.length - 1 ? spec.slice(0, slash) : spec;
  const proto = slash >= 0 && slash < spec.length - 1 ? spec.slice(slash + 1) : 'tcp';
  let key: string;
  try {
    key = newPort(proto, port);
  } catch (e) {
    return { out: '', error: (e as Error).message };
  }
  const frontends = ports[key];
  if (frontends) return { out: frontends.map((f) => `${f.HostIp}:${f.HostPort}\n`).join('') };
  return { out: '', error: `Error: No public port '${port}/${proto}' published for ${name}` };
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
    const r = portOutput(c.NetworkSettings?.Ports ?? {}, name, spec);
    ctx.stdout.write(r.out);
    if (r.error === undefined) return 0;
    ctx.stderr.write(`${r.error}\n`);
    return 1;
  },
};
