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
import type { BerthStores } from '../stores.ts';
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
  /**
   * bytes the snapshots removed freed: their files' apparent sizes, as docker's layer sizes count
   * them (each inode once; one still linked from a kept snapshot not at all)
   */
  snapshotBytes: number;
  /** bytes the leftovers removed freed (half-unpacked layers, abandoned downloads) */
  leftoverBytes: number;
  /** ids of leases of dead processes dropped */
  staleLeases: string[];
  /** what crashed processes left and was removed (unpack tmp dirs, stale ingests) */
  leftovers: string[];
}

/** Collects the garbage of `stores` (see the file comment). */
export interface CollectOptions {
  gracePeriodMs?: number;
  /**
   * Downloads no live process is writing are removed once idle this long (default a day, so a
   * pull run again resumes them; prune passes 0: what a dead process left is reclaimed now).
   */
  staleIngestAgeMs?: number;
}

export async function collect(stores: BerthStores, opts: CollectOptions = {}): Promise<CollectResult> {
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
    // Measured before they go: a removed tree's inodes are freed only when every link is removed.
    const trees = new Map<string, Inodes>();
    for (const id of await stores.snapshots.ids()) {
      if (keep.has(id) || (await stores.snapshots.owners(id)).length > 0) continue;
      trees.set(id, await inodesOf(stores.snapshots.lowerDir(id)));
    }
    const removed = await stores.snapshots.gc(undefined, keep);
    // What crashed processes left: half-unpacked layers in the snapshot store's tmp/ (never used:
    // a snapshot is renamed into place only once complete) and downloads no live process writes.
    const leftoverTrees: Inodes[] = [];
    const tmp = await stores.snapshots.cleanup(async (path) => void leftoverTrees.push(await inodesOf(path)));
    const ingests = await stores.content.cleanupStaleIngests({ maxAgeMs: opts.staleIngestAgeMs });
    const snapshotTrees = removed.map((id) => trees.get(id)).filter((t): t is Inodes => t !== undefined);
    const snapshotBytes = freedBytes(snapshotTrees);
    return {
      content,
      snapshots: removed,
      snapshotBytes,
      // the leftovers' share of what the removed trees together freed, plus the downloads' data
      leftoverBytes: freedBytes([...snapshotTrees, ...leftoverTrees]) - snapshotBytes + ingests.freedBytes,
      staleLeases: active.stale,
      leftovers: [...tmp.map((n) => `snapshot/tmp/${n}`), ...ingests.removed.map((r) => `ingest ${r}`)],
    };
  });
}

/** The non-directory inodes under a tree: `dev:ino` → apparent size, link count, links in the tree. */
type Inodes = Map<string, { size: number; nlink: number; links: number }>;

async function inodesOf(dir: string, into: Inodes = new Map()): Promise<Inodes> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return into;
    throw e;
  }
  for (const n of names) {
    const p = join(dir, n);
    const st = await lstat(p).catch(() => undefined);
    if (!st) continue;
    if (st.isDirectory()) {
      await inodesOf(p, into);
      continue;
    }
    const key = `${st.dev}:${st.ino}`;
    const seen = into.get(key);
    if (seen) seen.links++;
    else into.set(key, { size: st.size, nlink: st.nlink, links: 1 });
  }
  return into;
}

/**
 * What removing all of `trees` frees, in apparent bytes as docker counts a layer (files only,
 * each inode once): the inodes all of whose links are in the trees.
 */
function freedBytes(trees: readonly Inodes[]): number {
  const links = new Map<string, { size: number; nlink: number; links: number }>();
  for (const t of trees) {
    for (const [k, v] of t) {
      const seen = links.get(k);
      if (seen) seen.links += v.links;
      else links.set(k, { ...v });
    }
  }
  let total = 0;
  for (const v of links.values()) if (v.links >= v.nlink) total += v.size;
  return total;
}
