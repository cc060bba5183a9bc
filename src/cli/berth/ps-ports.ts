/**
 * The PORTS column of `berth ps`, as docker 20.10 prints the API's container Ports
 * (cli/command/formatter/container.go DisplayablePorts): runs of consecutive ports published on the
 * same port number (or not published) collapse into a range per address and protocol
 * (`0.0.0.0:80-81->80-81/tcp`, `8000-8001/tcp`); a port published on another number is its own
 * entry, after the groups (`0.0.0.0:8080->80/tcp, :::8080->80/tcp`).
 */
export interface ApiPort {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

function comparePorts(a: ApiPort, b: ApiPort): number {
  if (a.PrivatePort !== b.PrivatePort) return a.PrivatePort - b.PrivatePort;
  const ai = a.IP ?? '';
  const bi = b.IP ?? '';
  if (ai !== bi) return ai < bi ? -1 : 1;
  if ((a.PublicPort ?? 0) !== (b.PublicPort ?? 0)) return (a.PublicPort ?? 0) - (b.PublicPort ?? 0);
  return a.Type < b.Type ? -1 : a.Type > b.Type ? 1 : 0;
}

/** A group's text: `IP:FIRST-LAST->FIRST-LAST/TYPE` or `FIRST-LAST/TYPE` (the key is `IP/TYPE` or `TYPE`). */
function formGroup(key: string, first: number, last: number): string {
  const parts = key.split('/');
  const ip = parts.length > 1 ? parts[0]! : '';
  const type = parts.length > 1 ? parts[1]! : parts[0]!;
  let group = String(first);
  if (first !== last) group += `-${last}`;
  if (ip !== '') group = `${ip}:${group}->${group}`;
  return `${group}/${type}`;
}

export function displayablePorts(ports: readonly ApiPort[]): string {
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const hostMappings: string[] = [];
  for (const p of [...ports].sort(comparePorts)) {
    const current = p.PrivatePort;
    let key = p.Type;
    if (p.IP) {
      if (p.PublicPort !== current) {
        hostMappings.push(`${p.IP}:${p.PublicPort ?? 0}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groups.get(key);
    if (g === undefined) {
      groups.set(key, { first: current, last: current });
    } else if (current === g.last + 1) {
      g.last = current;
    } else {
      // the closed group goes first; the new one keeps the key's place in the map's order
      result.push(formGroup(key, g.first, g.last));
      g.first = current;
      g.last = current;
    }
  }
  for (const [key, g] of groups) result.push(formGroup(key, g.first, g.last));
  return [...result, ...hostMappings].join(', ');
}
