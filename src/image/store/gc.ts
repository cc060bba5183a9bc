/**
 * Garbage collection of the content store by mark and sweep: mark every blob reachable from the
 * roots (the digests the image index names, plus any the caller adds, e.g. images of
 * containers) through `children` (index → manifests, manifest → config + layers), then delete
 * the blobs nothing reaches. Kept regardless: blobs committed after the sweep list was taken,
 * blobs a live writer is ingesting (an ingest's expected digest), and blobs updated within
 * `gracePeriodMs` (a pull commits its blobs before it tags the image).
 *
 * Reference counts fall out of the mark: `refCounts` says how many marked parents point at each
 * blob (0 for roots that nothing else references).
 */
import type { Digest } from './digest.ts';
import type { ContentStore } from './content.ts';
import { NotFoundError, StoreError } from './errors.ts';

export interface GcOptions {
  roots: Iterable<Digest>;
  /** the digests `digest`'s content references; called only for blobs present in the store */
  children: (digest: Digest) => Promise<Digest[]>;
  /** keep blobs updated less than this many ms ago (default 0) */
  gracePeriodMs?: number;
  /** compute what would be deleted, delete nothing */
  dryRun?: boolean;
}

export interface GcResult {
  /** blobs reached from the roots */
  reachable: Set<Digest>;
  /** marked parents pointing at each reachable blob */
  refCounts: Map<Digest, number>;
  deleted: Digest[];
  /** unreachable blobs kept: being ingested, or within the grace period */
  kept: { digest: Digest; reason: 'ingesting' | 'recent' }[];
  freedBytes: number;
}

export async function collectGarbage(store: ContentStore, opts: GcOptions): Promise<GcResult> {
  const start = Date.now();
  const grace = opts.gracePeriodMs ?? 0;
  // The sweep only considers blobs that existed before marking began.
  const candidates = await store.list();

  const reachable = new Set<Digest>();
  const refCounts = new Map<Digest, number>();
  const stack: Digest[] = [];
  for (const r of opts.roots) {
    if (!refCounts.has(r)) refCounts.set(r, 0);
    stack.push(r);
  }
  while (stack.length > 0) {
    const d = stack.pop()!;
    if (reachable.has(d)) continue;
    reachable.add(d);
    if (!(await store.has(d))) continue; // referenced but not (yet) here: nothing below it to mark
    let kids: Digest[];
    try {
      kids = await opts.children(d);
    } catch (e) {
      throw new StoreError(`gc: children of ${d}: ${(e as Error).message}; nothing deleted`, { cause: e });
    }
    for (const k of kids) {
      refCounts.set(k, (refCounts.get(k) ?? 0) + 1);
      if (!reachable.has(k)) stack.push(k);
    }
  }

  const ingesting = await store.ingestingDigests();
  const result: GcResult = { reachable, refCounts, deleted: [], kept: [], freedBytes: 0 };
  for (const info of candidates) {
    if (reachable.has(info.digest)) continue;
    if (ingesting.has(info.digest)) {
      result.kept.push({ digest: info.digest, reason: 'ingesting' });
      continue;
    }
    if (start - info.updatedAt.getTime() < grace) {
      result.kept.push({ digest: info.digest, reason: 'recent' });
      continue;
    }
    if (!opts.dryRun) {
      try {
        await store.delete(info.digest);
      } catch (e) {
        if (e instanceof NotFoundError) continue; // deleted by someone else meanwhile
        throw e;
      }
    }
    result.deleted.push(info.digest);
    result.freedBytes += info.size;
  }
  return result;
}
