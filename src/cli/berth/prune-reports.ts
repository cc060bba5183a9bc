/**
 * The prune calls `container prune`, `volume prune`, `image prune` and `system prune` make, each
 * with docker's text of its report (`Deleted Volumes:\n` and one line an object, or '' when
 * nothing went) and the space it reclaimed. Each command prints the text (followed by a blank
 * line) and `Total reclaimed space: ...` as docker's CLI does.
 */
import { humanSize } from '../units.ts';
import type { PruneReport } from '../../image/index.ts';
import type { VolumePruneReport } from '../../engine/volumes/index.ts';
import type { Client } from './client.ts';
import type { Output } from './command.ts';

export type Filters = Record<string, string[]>;

export interface Pruned {
  space: number;
  output: string;
}

const listed = (title: string, items: readonly string[] | null | undefined): string =>
  items && items.length > 0 ? `${title}:\n${items.map((i) => `${i}\n`).join('')}` : '';

export async function pruneContainers(client: Client, filters: Filters): Promise<Pruned> {
  const r = await client.post<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }>('/containers/prune', { filters: JSON.stringify(filters) });
  const output = listed('Deleted Containers', r.ContainersDeleted);
  return { space: output === '' ? 0 : r.SpaceReclaimed, output };
}

export async function pruneNetworks(client: Client, filters: Filters): Promise<Pruned> {
  const r = await client.post<{ NetworksDeleted: string[] | null }>('/networks/prune', { filters: JSON.stringify(filters) });
  return { space: 0, output: listed('Deleted Networks', r.NetworksDeleted) };
}

export async function pruneVolumes(client: Client, filters: Filters): Promise<Pruned> {
  const r = await client.post<VolumePruneReport>('/volumes/prune', { filters: JSON.stringify(filters) });
  const output = listed('Deleted Volumes', r.VolumesDeleted);
  return { space: output === '' ? 0 : r.SpaceReclaimed, output };
}

/** `all`: every unused image (docker's dangling=false), else the dangling ones */
export async function pruneImages(client: Client, filters: Filters, all: boolean): Promise<Pruned> {
  const r = await client.post<PruneReport>('/images/prune', { filters: JSON.stringify({ ...filters, dangling: [String(!all)] }) });
  const deleted = (r.ImagesDeleted ?? []).map((i) => ('Untagged' in i ? `untagged: ${i.Untagged}` : `deleted: ${i.Deleted}`));
  const output = deleted.length > 0 ? `Deleted Images:\n${deleted.map((l) => `${l}\n`).join('')}` : '';
  // the space counts even with no image deleted: layers no image uses any more are freed too
  return { space: r.SpaceReclaimed, output };
}

export async function pruneBuildCache(client: Client, filters: Filters, all: boolean): Promise<Pruned> {
  const r = await client.post<{ CachesDeleted: string[] | null; SpaceReclaimed: number }>('/build/prune', { filters: JSON.stringify(filters), all });
  return { space: r.SpaceReclaimed, output: listed('Deleted build cache objects', r.CachesDeleted) };
}

/** A report's text as docker prints it: the list and a blank line, nothing when it is empty. */
export function writePruned(out: Output, p: Pruned): void {
  if (p.output !== '') out.write(`${p.output}\n`);
}

export function writeTotal(out: Output, space: number): void {
  out.write(`Total reclaimed space: ${humanSize(space)}\n`);
}
