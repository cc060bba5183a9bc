/**
 * Local image management over a berth root's stores, as docker's daemon does it (the calls
 * behind `GET /images/json`, `GET /images/{name}/json`, `/images/{name}/history`,
 * `POST /images/{name}/tag`, `DELETE /images/{name}`, `POST /images/prune`). The CLI calls it
 * in-process today; berthd will serve it.
 *
 * An image is a manifest recorded in refs.json; its ID is its config digest (as docker's). A name
 * or an ID (full, or a unique hex prefix) finds it. Removing an image forgets it and collects the
 * garbage (collect.ts): blobs and snapshots nothing else references.
 */
import type { BerthStores } from '../stores.ts';
import { InvalidReferenceError, parseReference, type ImageReference } from '../reference.ts';
import type { Digest } from '../store/digest.ts';
import { collect, type CollectOptions, type CollectResult } from './collect.ts';
import {
  AmbiguousImageError, ImageConflictError, ImagesError, InvalidTagError, NoSuchImageError, shortId, type BrokenImageError,
} from './errors.ts';
import { loadImages, type LocalImage } from './load.ts';
import { familiar, familiarRepo, isSingleReference, repoDigestOf, repoDigests, repoTags } from './names.ts';
import type { DeleteItem, HistoryItem, ImageInspect, ImageSummary, PruneReport } from './types.ts';
import { bundlesUsing } from './usage.ts';

/** docker's image list filters (`filters={"dangling":["true"]}`). */
export type ImageFilters = Partial<Record<'dangling' | 'reference' | 'label' | 'before' | 'since', string[]>>;
const FILTER_KEYS = new Set(['dangling', 'reference', 'label', 'before', 'since']);

export interface ListOptions {
  /** docker's `-a` (intermediate images): berth has none, so it changes nothing */
  all?: boolean;
  filters?: ImageFilters;
}

/** What a name or ID found. */
export type Resolved =
  | { by: 'name'; name: string; image: LocalImage }
  /** by ID (or repo@digest): every manifest with that config */
  | { by: 'id'; id: Digest; images: LocalImage[] };

const HEX_PREFIX = /^(?:sha256:)?([0-9a-f]{1,64})$/;
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * What owns a bundle, for the messages and rules of a removal: berthd's containers are the
 * bundles' owners there (`name`: "container 0123456789ab", `state`: whether it runs); a running
 * user is docker's hard conflict, which even force does not override. No answer: the bundle
 * stands for itself.
 */
export type BundleOwner = (bundleDir: string) => ImageUser | undefined;
export interface ImageUser {
  name: string;
  state?: 'running' | 'stopped';
}

export class ImageService {
  constructor(
    readonly stores: BerthStores,
    private readonly onBroken?: (e: BrokenImageError) => void,
    private readonly bundleOwner?: BundleOwner,
  ) {}

  /** The users of `img`: each bundle as its owner names it. */
  async #users(img: LocalImage): Promise<ImageUser[]> {
    return (await bundlesUsing(this.stores.snapshots, img)).map((dir) => this.bundleOwner?.(dir) ?? { name: `bundle ${dir}` });
  }

  async #all(): Promise<LocalImage[]> {
    return loadImages(this.stores, this.onBroken);
  }

  /** Finds the image `ref` names: a name (normalised as docker does), `repo@digest`, or an ID / unique ID prefix. */
  async resolve(ref: string, images?: LocalImage[]): Promise<Resolved> {
    const all = images ?? (await this.#all());
    const idMatch = HEX_PREFIX.exec(ref);
    const fullId = idMatch !== null && (idMatch[1]!.length === 64 || ref.startsWith('sha256:'));
    let parsed: ImageReference | undefined;
    if (!fullId) {
      try {
        parsed = parseReference(ref);
      } catch (e) {
        if (!(e instanceof InvalidReferenceError) || idMatch === null) throw new ImagesError(e instanceof Error ? e.message : String(e));
      }
    }
    if (parsed !== undefined) {
      const name = parsed.toString();
      const byName = all.find((i) => i.names.includes(name));
      if (byName) return { by: 'name', name, image: byName };
      if (parsed.digest !== undefined && parsed.tag === undefined) {
        const hit = all.find((i) => repoDigests(i).includes(parsed.familiar()) || (i.digest === parsed.digest && i.names.some((n) => familiarRepo(n) === parsed.familiarName())));
        if (hit) return { by: 'id', id: hit.id, images: all.filter((i) => i.id === hit.id) };
      }
    }
    if (idMatch !== null) {
      const ids = [...new Set(all.filter((i) => i.id.slice('sha256:'.length).startsWith(idMatch[1]!)).map((i) => i.id))].sort();
      if (ids.length > 1) throw new AmbiguousImageError(ref, ids);
      if (ids.length === 1) return { by: 'id', id: ids[0]!, images: all.filter((i) => i.id === ids[0]) };
    }
    throw new NoSuchImageError(parsed !== undefined ? parsed.familiar() : ref);
  }

  /** `GET /images/json`: newest first. */
  async list(opts: ListOptions = {}): Promise<ImageSummary[]> {
    const filters = opts.filters ?? {};
    for (const k of Object.keys(filters)) if (!FILTER_KEYS.has(k)) throw new ImagesError(`invalid filter '${k}'`);
    const all = await this.#all();
    const dangling = filters.dangling?.map((v) => {
      if (v !== 'true' && v !== 'false' && v !== '1' && v !== '0') throw new ImagesError(`invalid filter 'dangling=${v}'`);
      return v === 'true' || v === '1';
    });
    const createdOf = async (ref: string): Promise<number> => {
      const r = await this.resolve(ref, all);
      return (r.by === 'name' ? r.image : r.images[0]!).created;
    };
    const before = filters.before?.[0] !== undefined ? await createdOf(filters.before[0]) : undefined;
    const since = filters.since?.[0] !== undefined ? await createdOf(filters.since[0]) : undefined;
    const patterns = filters.reference ?? [];
    const out: ImageSummary[] = [];
    for (const img of all) {
      const isDangling = img.names.length === 0;
      if (dangling !== undefined && !dangling.includes(isDangling)) continue;
      if (before !== undefined && img.created >= before) continue;
      if (since !== undefined && img.created <= since) continue;
      const labels = img.config.config?.Labels ?? {};
      if (filters.label && !filters.label.every((l) => matchLabel(labels, l))) continue;
      let names = img.names;
      if (patterns.length > 0) {
        // docker keeps only the names a pattern matches (reference.FamiliarMatch)
        names = names.filter((n) => patterns.some((p) => globMatch(p, familiar(n)) || globMatch(p, familiarRepo(n))));
        if (names.length === 0) continue;
      }
      const shown = { ...img, names };
      out.push({
        Id: img.id,
        ParentId: '',
        RepoTags: repoTags(shown),
        RepoDigests: repoDigests(shown),
        Created: img.created,
        Size: img.size,
        SharedSize: -1,
        Labels: labels,
        Containers: (await bundlesUsing(this.stores.snapshots, img)).length,
        Descriptor: { mediaType: img.manifest.mediaType, digest: img.digest, size: img.manifestSize },
      });
    }
    return out.sort((a, b) => b.Created - a.Created || cmp(a.RepoTags[0] ?? '~', b.RepoTags[0] ?? '~') || cmp(a.Id, b.Id));
  }

  /** `GET /images/{name}/json` */
  async inspect(ref: string): Promise<ImageInspect> {
    const r = await this.resolve(ref);
    const img = r.by === 'name' ? r.image : r.images[0]!;
    const c = img.config;
    const have = await Promise.all(img.chainIds.map((id) => this.stores.snapshots.has(id)));
    const unpacked = img.chainIds.length > 0 && have.every(Boolean);
    return {
      Id: img.id,
      RepoTags: repoTags(img),
      RepoDigests: repoDigests(img),
      Parent: '',
      Comment: c.comment ?? '',
      Created: c.created ?? '',
      DockerVersion: c.docker_version ?? '',
      Author: c.author ?? '',
      Config: c.config ?? {},
      Architecture: c.architecture ?? '',
      ...(c.variant !== undefined && { Variant: c.variant }),
      Os: c.os ?? '',
      ...(c['os.version'] !== undefined && { OsVersion: c['os.version'] }),
      Size: img.size,
      GraphDriver: {
        Name: 'overlay',
        // overlay's lowerdir order: top layer first
        Data: unpacked ? { LowerDir: img.chainIds.map((id) => this.stores.snapshots.lowerDir(id)).reverse().join(':') } : null,
      },
      RootFS: { Type: c.rootfs?.type ?? 'layers', Layers: c.rootfs?.diff_ids ?? [] },
      Metadata: img.record.lastTagTime !== undefined ? { LastTagTime: img.record.lastTagTime } : {},
      Descriptor: { mediaType: img.manifest.mediaType, digest: img.digest, size: img.manifestSize },
    };
  }

  /** `GET /images/{name}/history`: newest step first. */
  async history(ref: string): Promise<HistoryItem[]> {
    const r = await this.resolve(ref);
    const img = r.by === 'name' ? r.image : r.images[0]!;
    const seconds = (s: string | undefined): number => {
      const ms = s === undefined ? NaN : Date.parse(s);
      return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
    };
    let items: HistoryItem[];
    const hist = Array.isArray(img.config.history) ? img.config.history : [];
    if (hist.length > 0) {
      let layer = 0;
      items = hist.map((h) => ({
        Id: '<missing>',
        Created: seconds(h.created),
        CreatedBy: h.created_by ?? '',
        Tags: null,
        Size: h.empty_layer ? 0 : (img.layerSizes[layer++] ?? 0),
        Comment: h.comment ?? '',
      }));
    } else {
      // No history in the config (images not built by a builder): one step per layer.
      items = img.layerSizes.map((size) => ({ Id: '<missing>', Created: img.created, CreatedBy: '', Tags: null, Size: size, Comment: '' }));
    }
    items.reverse();
    if (items[0]) {
      items[0].Id = img.id;
      items[0].Tags = repoTags(img);
    }
    return items;
  }

  /** `POST /images/{name}/tag`: points `target` (normalised; `latest` by default) at `source`'s image. */
  async tag(source: string, target: string): Promise<void> {
    let t: ImageReference;
    try {
      t = parseReference(target);
    } catch (e) {
      throw new InvalidTagError(`Error parsing reference: "${target}" is not a valid repository/tag: ${(e as Error).message}`);
    }
    if (t.digest !== undefined) throw new InvalidTagError('refusing to create a tag with a digest reference');
    const r = await this.resolve(source);
    const img = r.by === 'name' ? r.image : r.images[0]!;
    await this.stores.refs.tag(t.toString(), img.digest);
  }

  /**
   * `DELETE /images/{name}` (docker's ImageDelete): a name is untagged, and the image deleted when
   * that was its last name; an ID deletes the image and untags all its names (refused without
   * `force` when they span several repositories). Refused without `force` when a bundle uses the
   * image and the removal would take its last reference.
   */
  async remove(ref: string, opts: { force?: boolean } = {}): Promise<DeleteItem[]> {
    const all = await this.#all();
    const r = await this.resolve(ref, all);
    const force = opts.force ?? false;
    const items: DeleteItem[] = [];
    if (r.by === 'name') {
      const img = r.image;
      const idNames = all.filter((i) => i.id === img.id).flatMap((i) => i.names);
      const users = await this.#users(img);
      if (!force && isSingleReference(idNames) && users.length > 0) {
        throw new ImageConflictError(`conflict: unable to remove repository reference "${ref}" (must force) - ${users[0]!.name} is using its referenced image ${shortId(img.id)}`);
      }
      await this.stores.refs.untag(r.name);
      items.push({ Untagged: familiar(r.name) });
      const remaining = img.names.filter((n) => n !== r.name);
      if (!remaining.some((n) => familiarRepo(n) === familiarRepo(r.name))) {
        items.push({ Untagged: `${familiarRepo(r.name)}@${repoDigestOf(img)}` });
      }
      // a running container's image is only untagged, even forced (docker's quiet hard conflict)
      if (remaining.length > 0 || users.some((u) => u.state === 'running')) return items;
      return [...items, ...(await this.#delete([img])).items];
    }
    const names = [...new Set(r.images.flatMap((i) => i.names))].sort(cmp);
    const users = (await Promise.all(r.images.map((img) => this.#users(img)))).flat();
    // docker's checkImageDeleteConflict order: running container (hard), several repositories, stopped one (soft)
    const running = users.find((u) => u.state === 'running');
    if (running) throw new ImageConflictError(`conflict: unable to delete ${shortId(r.id)} (cannot be forced) - image is being used by running ${running.name}`);
    if (!force) {
      if (names.length > 0 && !isSingleReference(names)) {
        throw new ImageConflictError(`conflict: unable to delete ${shortId(r.id)} (must be forced) - image is referenced in multiple repositories`);
      }
      if (users.length > 0) {
        const u = users[0]!;
        throw new ImageConflictError(`conflict: unable to delete ${shortId(r.id)} (must be forced) - image is being used by ${u.state ? `${u.state} ` : ''}${u.name}`);
      }
    }
    for (const img of r.images) items.push(...untagItems(img));
    return [...items, ...(await this.#delete(r.images)).items];
  }

  /** Forgets `images` and collects the garbage; Deleted items for their IDs and their snapshots removed. */
  async #delete(images: LocalImage[], gcOpts: CollectOptions = {}): Promise<{ items: DeleteItem[]; gc: CollectResult }> {
    const items: DeleteItem[] = [];
    for (const img of images) {
      await this.stores.refs.removeImage(img.digest);
      if (!items.some((i) => 'Deleted' in i && i.Deleted === img.id)) items.push({ Deleted: img.id });
    }
    const gc = await collect(this.stores, gcOpts);
    const chains = new Set(images.flatMap((i) => i.chainIds));
    // docker lists the layers an image deletion released: here, its snapshots (by chain ID)
    for (const id of gc.snapshots) if (chains.has(id)) items.push({ Deleted: id });
    return { items, gc };
  }

  /**
   * `POST /images/prune`: removes the dangling images (every image with `all`) that no bundle
   * uses, then collects the garbage, downloads dead processes left included. SpaceReclaimed is
   * what that freed: the blobs, the snapshots (unpacked layers) and the leftovers removed.
   */
  async prune(opts: { all?: boolean } = {}): Promise<PruneReport> {
    const victims: LocalImage[] = [];
    for (const img of await this.#all()) {
      if (!opts.all && img.names.length > 0) continue;
      if ((await bundlesUsing(this.stores.snapshots, img)).length > 0) continue;
      victims.push(img);
    }
    const items: DeleteItem[] = [];
    for (const img of victims) items.push(...untagItems(img));
    const { items: deleted, gc } = await this.#delete(victims, { staleIngestAgeMs: 0 });
    items.push(...deleted);
    return { ImagesDeleted: items.length > 0 ? items : null, SpaceReclaimed: gc.content.freedBytes + gc.snapshotBytes + gc.leftoverBytes };
  }

  /** Collects the garbage of the root alone (nothing is untagged). */
  async collect(): Promise<CollectResult> {
    return collect(this.stores);
  }
}

/** The Untagged items of removing every name of `img`: each tag, then the repository digests. */
function untagItems(img: LocalImage): DeleteItem[] {
  const tags = repoTags(img).map((t) => ({ Untagged: t }));
  return [...tags, ...repoDigests(img).map((d) => ({ Untagged: d }))];
}

function matchLabel(labels: Record<string, string>, filter: string): boolean {
  const eq = filter.indexOf('=');
  if (eq < 0) return Object.prototype.hasOwnProperty.call(labels, filter);
  return labels[filter.slice(0, eq)] === filter.slice(eq + 1);
}

/** Go's path.Match: `*` and `?` within a path segment, `[…]` classes, `\` escapes. */
export function globMatch(pattern: string, s: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const j = pattern.indexOf(']', i + 2);
      if (j < 0) return false; // path.ErrBadPattern: matches nothing
      let cls = pattern.slice(i + 1, j);
      if (cls.startsWith('^')) cls = `^${cls.slice(1)}`;
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = j;
    } else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else re += escapeRe(c);
  }
  return new RegExp(`${re}$`).test(s);
}

const escapeRe = (c: string): string => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
