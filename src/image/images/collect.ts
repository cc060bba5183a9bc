/**
 * Garbage collection of a berth root: the blobs and the snapshots nothing references.
 *
 * Roots: every image of refs.json (tagged or dangling: its manifest and the index it came
 * through) and every digest a live lease names (a pull in flight). Blobs are marked from them
 * (index → manifests, manifest → config + layers; only manifests and indexes are read) and the
 * unmarked ones deleted (store/gc.ts). Snapshots are kept while an image's chain or a live lease
 * names them, or a bundle owns them (SnapshotStore.gc checks owners under each chain's lock).
 *
 * The whole mark and sweep holds the gc lock (store/lease.ts), so two collections never
 * interleave and no lease changes meanwhile; leases of dead processes are dropped.
 */
import { readdir, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BerthStores } from '../bundle/create.ts';
import type { Digest } from '../store/digest.ts';
import { collectGarbage, type GcResult } from '../store/gc.ts';
import { Leases } from '../store/lease.ts';
import { detectMediaType, isIndexType, parseIndex, parseManifest } from '../registry/media.ts';
import { errnoCode } from '../store/errors.ts';
import { loadImages } from './load.ts';

export interface CollectResult {
  content: GcResult;
  /** chain IDs of the snapshots removed */
  snapshots: Digest[];
  /** bytes of the files of the snapshots removed */
  snapshotBytes: number;
  /** ids of leases of dead processes dropped */
  staleLeases: string[];
  /** what crashed processes left and was removed (unpack tmp dirs, stale ingests) */
  leftovers: string[];
}

/** Collects the garbage of `stores` (see the file comment). */
export async function collect(stores: BerthStores, opts: { gracePeriodMs?: number } = {}): Promise<CollectResult> {
  const leases = Leases.forContent(stores.content);
  return leases.exclusive(`garbage collection of ${stores.root}`, async () => {
    const active = await leases.active({ removeStale: true });
    const roots = await stores.refs.roots();
    // Which marked digests are documents (read for their children) rather than layers/configs.
    const documents = new Set<Digest>(roots);
    const content = await collectGarbage(stores.content, {
      roots: [...roots, ...active.content],
      gracePeriodMs: opts.gracePeriodMs ?? 0,
      children: async (d) => {
        if (!documents.has(d)) return [];
        const bytes = await stores.content.readAll(d);
        const type = detectMediaType(bytes, undefined);
        if (isIndexType(type)) {
          const kids = parseIndex(bytes, type, `index ${d}`).manifests.map((m) => m.digest);
          for (const k of kids) documents.add(k);
          return kids;
        }
        const m = parseManifest(bytes, type, `manifest ${d}`);
        return [m.config.digest, ...m.layers.map((l) => l.digest)];
      },
    });

    const keep = new Set<string>(active.snapshots);
    // An image whose content is broken keeps no snapshots: nothing could mount it anyway.
    for (const img of await loadImages(stores)) for (const id of img.chainIds) keep.add(id);
    const sizes = new Map<Digest, number>();
    for (const id of await stores.snapshots.ids()) {
      if (keep.has(id) || (await stores.snapshots.owners(id)).length > 0) continue;
      sizes.set(id, await treeBytes(stores.snapshots.lowerDir(id)));
    }
    const removed = await stores.snapshots.gc(undefined, keep);
    // What crashed processes left: half-unpacked layers in the snapshot store's tmp/ (never used:
    // a snapshot is renamed into place only once complete) and downloads idle for a day.
    const tmp = await stores.snapshots.cleanup();
    const ingests = await stores.content.cleanupStaleIngests();
    return {
      content,
      snapshots: removed,
      snapshotBytes: removed.reduce((n, id) => n + (sizes.get(id) ?? 0), 0),
      staleLeases: active.stale,
      leftovers: [...tmp.map((n) => `snapshot/tmp/${n}`), ...ingests.removed.map((r) => `ingest ${r}`)],
    };
  });
}

/** Apparent size of the files under `dir` (what removing it frees, as docker counts it). */
async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return 0;
    throw e;
  }
  for (const n of names) {
    const p = join(dir, n);
    const st = await lstat(p).catch(() => undefined);
    if (!st) continue;
    if (st.isDirectory()) total += await treeBytes(p);
    else total += st.size;
  }
  return total;
}
