/**
 * A pull as docker and podman do it: the image's blobs fetched into the content store *and* its
 * layers unpacked into snapshots, before the name is tagged. Each layer is unpacked while it
 * downloads: the registry client's tap feeds the bytes it stores into a stream the snapshot
 * store decompresses, hashes (DiffID) and extracts, so the download and the unpack of all layers
 * overlap. A layer already in the store is unpacked from there; one already unpacked is skipped.
 *
 * Trust: a snapshot is only renamed into place once its uncompressed bytes hash to the DiffID the
 * (digest-verified) config names, so a streamed unpack never keeps content the image does not
 * name, even before the compressed blob's own digest is checked at the end of its download.
 * If a download restarts from byte 0 (a registry that ignores Range), the stream is abandoned
 * and the layer unpacked again from the store once its blob is complete.
 */
import { PassThrough, type Readable } from 'node:stream';

import type { BerthStores } from './stores.ts';
import { parseReference } from './reference.ts';
import type { BlobTap } from './registry/client.ts';
import type { Descriptor } from './registry/media.ts';
import { pullImage, type LayerStart, type PullOptions, type PullResult } from './registry/pull.ts';
import { layerRefs } from './snapshot/layers.ts';
import type { LayerRef, LayerSource } from './snapshot/store.ts';
import type { Digest } from './store/digest.ts';

export type LayerPhase = 'waiting' | 'exists' | 'downloading' | 'downloaded' | 'extracting' | 'complete';

/** What the CLI draws docker's per-layer lines from. */
export interface LayerProgress {
  digest: Digest;
  phase: LayerPhase;
  /** bytes downloaded so far (downloading), of `total` */
  current?: number;
  total: number;
}

export interface PullAndUnpackOptions extends Omit<PullOptions, 'onLayer' | 'beforeTag'> {
  onProgress?: (p: LayerProgress) => void;
  /** skip the unpack (fetch only, as before pull unpacked) */
  unpack?: boolean;
  /**
   * Stops the pull (SIGINT): downloads and unpacks in flight end at once, their temporary
   * directories and the pull's lease removed; the pull rejects with the signal's reason.
   */
  signal?: AbortSignal;
}

export interface PullAndUnpackResult extends PullResult {
  /** layers this pull unpacked (0 when all were already there) */
  unpacked: number;
  /** layers whose blob this pull downloaded */
  downloaded: number;
}

export class PullUnpackError extends Error {}

/** A promise with its resolve/reject outside. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // observed by whoever awaits it; never an unhandled rejection
  return { promise, resolve, reject };
}

export async function pullAndUnpack(stores: BerthStores, image: string, opts: PullAndUnpackOptions = {}): Promise<PullAndUnpackResult> {
  const ref = parseReference(image);
  const where = `pull ${ref.toString()}`;
  const { onProgress, unpack = true, signal, ...pullOpts } = opts;
  signal?.throwIfAborted();
  if (signal) pullOpts.clientOptions = { ...pullOpts.clientOptions, signal };
  /** blob readers of unpacks fed from the store: an abort destroys them (streams too, below) */
  const readers = new Set<Readable>();
  const stop = (): void => {
    const why = signal?.reason instanceof Error ? signal.reason : new PullUnpackError(`${where}: interrupted`);
    for (const r of readers) r.destroy(why);
    for (const pt of streams.values()) pt.destroy(why);
  };
  signal?.addEventListener('abort', stop, { once: true });
  const stored: LayerSource = {
    reader: async (digest) => {
      signal?.throwIfAborted();
      const r = await stores.content.reader(digest);
      readers.add(r);
      r.once('close', () => readers.delete(r));
      return r;
    },
  };
  const unpacks: Promise<void>[] = [];
  // An unpack may fail (a hostile layer) while the downloads go on: its rejection is awaited
  // only before the tag, so it is marked handled now or Node kills the process for it. The
  // extractor's errors name the entry and why; which layer is said here, once.
  const track = (digest: Digest, p: Promise<void>): void => {
    const labelled = p.catch((e: unknown) => {
      const msg = e instanceof Error ? e.message : String(e);
      throw msg.includes(digest) ? e : new PullUnpackError(`layer ${digest}: ${msg}`, { cause: e });
    });
    labelled.catch(() => undefined);
    unpacks.push(labelled);
  };
  /** the streamed layers' streams, by blob digest */
  const streams = new Map<Digest, PassThrough>();
  /** settles whether a streamed layer's bytes flow through this pull (see startLayer) */
  const flowStart = new Map<Digest, (flowing: boolean) => void>();
  const fetchedLayer = new Map<Digest, ReturnType<typeof deferred>>();
  let unpacked = 0;
  let downloaded = 0;
  let refs: LayerRef[] | undefined;

  const startLayer = async (l: LayerStart): Promise<BlobTap | undefined> => {
    const d = l.descriptor;
    const progress = (phase: LayerPhase, current?: number): void =>
      onProgress?.({ digest: d.digest, phase, total: d.size, ...(current !== undefined && { current }) });
    const twin = fetchedLayer.get(d.digest);
    if (twin) {
      // the same blob twice in one manifest: the first fetch streams it; this chain position waits
      // for that unpack and links its tree (the snapshot store unpacks one DiffID once)
      if (unpack) {
        const layers = (refs ??= layerRefs(l.layers, l.config, where));
        track(d.digest, twin.promise.then(async () => {
          if (await stores.snapshots.prepareLayer(layers, l.index, stored)) unpacked++;
        }));
      }
      return undefined;
    }
    const done = deferred();
    fetchedLayer.set(d.digest, done);
    if (l.fetched) downloaded++;
    if (!unpack) {
      progress(l.fetched ? 'downloading' : 'exists', 0);
      if (!l.fetched) return undefined;
      return (chunk, offset) => progress('downloading', offset + chunk.length);
    }
    refs ??= layerRefs(l.layers, l.config, where);
    const layers = refs;
    const snapshots = stores.snapshots;
    const chainId = snapshots.chainIdOf(layers, l.index);
    // leased before it is looked at, as the blobs are: a collection meanwhile keeps it
    await l.lease.add({ snapshots: [chainId] });
    if (await snapshots.has(chainId)) {
      progress('exists');
      return undefined;
    }
    const fromStore = async (): Promise<void> => {
      progress('extracting');
      if (await snapshots.prepareLayer(layers, l.index, stored)) unpacked++;
      progress('complete');
    };
    if (!l.fetched) {
      track(d.digest, fromStore());
      return undefined;
    }
    // Streamed: the snapshot store reads this layer's bytes from `pt` as the client stores them.
    const pt = new PassThrough({ highWaterMark: 1 << 20 });
    // Its reader (the unpack) sees an error through its own reads; with no reader yet (bytes
    // never flowed), an error must not become an uncaught 'error' event.
    pt.on('error', () => undefined);
    streams.set(d.digest, pt);
    let expected = 0;
    let broken = false;
    const source: LayerSource = {
      reader: async (digest) => (digest === d.digest ? pt : stored.reader(digest)),
    };
    // The unpack starts (and takes the layer's lock) only once bytes flow: a pull whose fetch
    // waits for another process downloading the same blob gets none, and must not hold the lock
    // the other one's streamed unpack needs. It reads the stored blob afterwards instead.
    let flowStarted!: (flowing: boolean) => void;
    const flowing = new Promise<boolean>((resolve) => (flowStarted = resolve));
    flowStart.set(d.digest, flowStarted);
    track(d.digest, (async () => {
      try {
        progress('downloading', 0);
        if (!(await flowing)) {
          await done.promise;
          await fromStore();
          return;
        }
        if (await snapshots.prepareLayer(layers, l.index, source)) unpacked++;
        progress('complete');
      } catch (e) {
        if (!broken) throw e;
        await done.promise;
        await fromStore();
      } finally {
        // consumed or not (another process unpacked it meanwhile), the tap stops feeding it
        pt.destroy();
        streams.delete(d.digest);
      }
    })());
    return async (chunk, offset) => {
      if (broken || pt.destroyed) return;
      if (offset !== expected) {
        broken = true;
        flowStarted(false); // resuming an ingest another process began: unpack from the store
        pt.destroy(new PullUnpackError(`${where}: layer ${d.digest}: the download restarted at byte ${offset}; unpacking from the store instead`));
        return;
      }
      if (expected === 0) flowStarted(true);
      expected += chunk.length;
      progress('downloading', expected);
      if (!pt.write(chunk)) {
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            pt.off('drain', wake);
            pt.off('close', wake);
            resolve();
          };
          pt.on('drain', wake);
          pt.on('close', wake);
        });
      }
    };
  };

  try {
    const r = await pullImage(ref, stores.content, stores.refs, {
      ...pullOpts,
      onLayer: startLayer,
      onBlob: (kind, digest, size) => {
        if (kind === 'layer') {
          // the blob is complete and verified: its stream ends, the unpack finishes reading
          streams.get(digest)?.end();
          flowStart.get(digest)?.(false); // no effect once bytes flowed
          fetchedLayer.get(digest)?.resolve();
          onProgress?.({ digest, phase: 'downloaded', total: size });
        }
        pullOpts.onBlob?.(kind, digest, size);
      },
      beforeTag: async () => {
        await Promise.all(unpacks);
      },
    });
    return { ...r, unpacked, downloaded };
  } catch (e) {
    for (const pt of streams.values()) pt.destroy(e instanceof Error ? e : new Error(String(e)));
    for (const d of fetchedLayer.values()) d.reject(e);
    for (const start of flowStart.values()) start(false);
    await Promise.allSettled(unpacks);
    throw signal?.aborted ? signal.reason : e;
  } finally {
    signal?.removeEventListener('abort', stop);
  }
}
