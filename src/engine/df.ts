/**
 * `GET /system/df` (docker system df): the images with how many containers use each, the
 * containers with the size of their writable layer (the overlay's upper directory) and of their
 * root filesystem, the volumes with their size and how many containers use each (docker's
 * UsageData), and build cache (berth builds nothing).
 */
import type { Containers } from './containers/index.ts';
import type { ImageEngine } from './images.ts';
import type { VolumeService } from './volumes/index.ts';

export interface DiskUsage {
  LayersSize: number;
  Images: Record<string, unknown>[];
  Containers: Record<string, unknown>[];
  Volumes: unknown[];
  BuildCache: unknown[];
}

export async function diskUsage(images: ImageEngine, containers: Containers, volumes: VolumeService): Promise<DiskUsage> {
  const list = await images.list({ all: true });
  const ctrs = containers.list({ all: true, size: false, filters: {} });
  const users = new Map<string, number>();
  for (const c of ctrs) users.set(c.ImageID as string, (users.get(c.ImageID as string) ?? 0) + 1);
  const sizeOf = new Map(list.map((i) => [i.Id, i.Size]));
  let layers = 0;
  const counted = new Set<string>();
  for (const i of list) {
    if (counted.has(i.Id)) continue;
    counted.add(i.Id);
    layers += i.Size;
  }
  const withSizes = [];
  for (const c of ctrs) {
    const rw = await containers.sizeRw(c.Id as string);
    withSizes.push({ ...c, SizeRw: rw, SizeRootFs: rw + (sizeOf.get(c.ImageID as string) ?? 0) });
  }
  return {
    LayersSize: layers,
    // SharedSize 0: what the CLI's RECLAIMABLE subtracts for images in use is their whole size
    Images: list.map((i) => ({ ...i, SharedSize: 0, VirtualSize: i.Size, Containers: users.get(i.Id) ?? 0 })),
    Containers: withSizes,
    Volumes: await volumes.usage(),
    BuildCache: [],
  };
}
