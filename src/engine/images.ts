/**
 * The engine's image verbs: what the API's image routes call. It owns no logic of its own beyond
 * wiring: the image library does the work (ImageService for local management, pull/push over the
 * registry client, archives for save/load/import), and every error it raises leaves here as one
 * of the engine's kinds (errors.ts), so the API maps statuses without knowing the image side.
 *
 * Credentials come only from the request (docker's X-Registry-Auth): the daemon never reads a
 * docker config of its own user, which would lend root's logins to every client of the socket.
 */
import { createHash } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';

import { AmbiguousImageError, ArchiveError, type BerthStores, type BundleOwner, convertToHostname, type Credentials, type DeleteItem, type Digest, type HistoryItem, ImageConflictError, type ImageFilters, type ImageInspect, ImageNotLocalError, type ImageReference, ImagesError, ImageService, type ImageSummary, type ImportResult, importRootfs, INDEX_SERVER, InvalidReferenceError, InvalidTagError, isDockerHub, type LayerProgress, loadArchive, type LoadResult, ManifestError, NoSuchImageError, parsePlatform, parseReference, type Platform, type PruneReport, pullAndUnpack, type PullAndUnpackResult, pushImage, type PushProgress, type PushResult, RegistryClient, type RegistryClientOptions, RegistryError, resolveSaveArgs, saveImages } from '../image/index.ts';
import type { EventBus } from './events.ts';
import { ConflictError, EngineError, ForbiddenError, InvalidParameterError, NotFoundError, SystemError, UnauthorizedError } from './errors.ts';

/** The registry side of a request: the client's credentials (if any), and how it may end early. */
export interface RegistryAuth {
  credentials?: Credentials;
  /**
   * Ends the work at once (the API client went away, as dockerd cancels a pull nobody waits
   * for): requests stop, temporary directories and the lease go, the call rejects.
   */
  signal?: AbortSignal;
  /** told why a failed registry attempt is retried, before the backoff */
  onRetry?: (message: string) => void;
}

export interface PullRequest extends RegistryAuth {
  onProgress?: (p: LayerProgress) => void;
  platform?: string;
}

export interface PullOutcome extends PullAndUnpackResult {
  /** false when the name already pointed at this manifest and nothing was fetched or unpacked */
  fresh: boolean;
}

export interface PushRequest extends RegistryAuth {
  onProgress?: (p: PushProgress) => void;
}

/** The one place image-library errors become engine kinds. */
export function imageError(e: unknown): unknown {
  if (e instanceof EngineError) return e;
  if (e instanceof NoSuchImageError || e instanceof ImageNotLocalError) return new NotFoundError(e.message, { cause: e });
  if (e instanceof ImageConflictError) return new ConflictError(e.message, { cause: e });
  if (e instanceof AmbiguousImageError || e instanceof InvalidTagError || e instanceof ImagesError) return new InvalidParameterError(e.message, { cause: e });
  if (e instanceof InvalidReferenceError) return new InvalidParameterError(e.message, { cause: e });
  if (e instanceof ArchiveError) return new InvalidParameterError(e.message, { cause: e });
  if (e instanceof RegistryError) {
    if (e.status === 404) return new NotFoundError(e.message, { cause: e });
    if (e.status === 401) return new UnauthorizedError(e.message, { cause: e });
    if (e.status === 403) return new ForbiddenError(e.message, { cause: e });
    return new SystemError(e.message, { cause: e });
  }
  if (e instanceof ManifestError) return new SystemError(e.message, { cause: e });
  return e;
}

async function translating<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw imageError(e);
  }
}

function reference(name: string): ImageReference {
  try {
    return parseReference(name);
  } catch (e) {
    throw imageError(e);
  }
}

export class ImageEngine {
  readonly #stores: BerthStores;
  readonly #service: ImageService;
  readonly #insecure: readonly string[];
  /** where image events go (set by the engine) */
  events: EventBus | undefined;
  readonly #stallTimeoutMs: number | undefined;

  constructor(stores: BerthStores, opts: { insecureRegistries?: readonly string[]; stallTimeoutMs?: number; onBroken?: (e: Error) => void; bundleOwner?: BundleOwner } = {}) {
    this.#stores = stores;
    this.#insecure = opts.insecureRegistries ?? [];
    this.#stallTimeoutMs = opts.stallTimeoutMs;
    this.#service = new ImageService(stores, opts.onBroken, opts.bundleOwner);
  }

  /** docker's LogImageEvent: the actor is an image ID or a name, `name` what the event is about. */
  #emit(action: string, id: string, name: string): void {
    this.events?.log('image', action, id, { name });
  }

  /** untag and delete events for what a removal or a prune did (`ids`: the image IDs that existed before, layers are not images). */
  #emitDeletes(items: DeleteItem[], ids: Set<string>, imageId?: string): void {
    for (const i of items) {
      if ('Untagged' in i && i.Untagged) this.#emit('untag', imageId ?? i.Untagged, imageId ?? i.Untagged);
      if ('Deleted' in i && i.Deleted && ids.has(i.Deleted)) this.#emit('delete', i.Deleted, i.Deleted);
    }
  }

  get root(): string {
    return this.#stores.root;
  }

  #client(auth: RegistryAuth): RegistryClientOptions {
    return {
      ...(auth.credentials && { credentials: auth.credentials }),
      ...(this.#insecure.length > 0 && { insecure: this.#insecure }),
      ...(this.#stallTimeoutMs !== undefined && { stallTimeoutMs: this.#stallTimeoutMs }),
      ...(auth.onRetry && { onRetry: auth.onRetry }),
      ...(auth.signal && { signal: auth.signal }),
    };
  }

  list(opts: { all?: boolean; filters?: ImageFilters } = {}): Promise<ImageSummary[]> {
    return translating(() => this.#service.list(opts));
  }

  /** How many images (distinct IDs) the store holds. */
  async count(): Promise<number> {
    return new Set((await this.list()).map((i) => i.Id)).size;
  }

  inspect(name: string): Promise<ImageInspect> {
    return translating(() => this.#service.inspect(name));
  }

  history(name: string): Promise<HistoryItem[]> {
    return translating(() => this.#service.history(name));
  }

  async tag(source: string, target: string): Promise<void> {
    await translating(() => this.#service.tag(source, target));
    if (this.events) this.#emit('tag', (await this.inspect(source)).Id, reference(target).familiar());
  }

  async remove(name: string, opts: { force?: boolean } = {}): Promise<DeleteItem[]> {
    const id = this.events ? (await this.inspect(name).catch(() => undefined))?.Id : undefined;
    const items = await translating(() => this.#service.remove(name, opts));
    if (id !== undefined) this.#emitDeletes(items, new Set([id]), id);
    return items;
  }

  async prune(opts: { all?: boolean } = {}): Promise<PruneReport> {
    const ids = new Set(this.events ? (await this.list({ all: true })).map((i) => i.Id) : []);
    const r = await translating(() => this.#service.prune(opts));
    this.#emitDeletes(r.ImagesDeleted ?? [], ids);
    return r;
  }

  /** Pulls `name` (blobs, unpacked layers, the tag), as `docker pull` does. */
  async pull(name: string, req: PullRequest = {}): Promise<PullOutcome> {
    const ref = reference(name);
    let platform: Platform | undefined;
    if (req.platform !== undefined && req.platform !== '') {
      try {
        platform = parsePlatform(req.platform);
      } catch (e) {
        throw new InvalidParameterError(`invalid platform ${JSON.stringify(req.platform)}: ${(e as Error).message}`);
      }
    }
    return translating(async () => {
      const before = await this.#stores.refs.resolve(ref.toString());
      const r = await pullAndUnpack(this.#stores, ref.toString(), {
        clientOptions: this.#client(req),
        ...(platform !== undefined && { platform }),
        ...(req.onProgress && { onProgress: req.onProgress }),
        ...(req.signal && { signal: req.signal }),
      });
      const ref2 = parseReference(r.name);
      this.#emit('pull', ref2.familiar(), ref2.familiarName());
      return { ...r, fresh: r.downloaded > 0 || r.unpacked > 0 || before !== r.manifestDigest };
    });
  }

  /** The local tags of `repo`'s repository (docker pushes them all when no tag is given). */
  async tagsOf(repo: string): Promise<ImageReference[]> {
    const want = reference(repo);
    const out: ImageReference[] = [];
    for (const { name } of await this.#stores.refs.list()) {
      let r: ImageReference;
      try {
        r = parseReference(name);
      } catch {
        continue;
      }
      if (r.repository() === want.repository() && r.tag !== undefined && r.digest === undefined) out.push(r);
    }
    return out.sort((a, b) => (a.toString() < b.toString() ? -1 : 1));
  }

  async push(ref: ImageReference, req: PushRequest = {}): Promise<PushResult> {
    const r = await translating(() => pushImage(ref, this.#stores.content, this.#stores.refs, {
      clientOptions: this.#client(req),
      ...(req.onProgress && { onProgress: req.onProgress }),
    }));
    this.#emit('push', ref.familiar(), ref.familiarName());
    return r;
  }

  /**
   * What `docker save NAME...` saves, resolved before the caller commits to a 200 and a tar
   * stream: a name (a repository without a tag: all its tags, docker's rule), or an image ID or
   * unique ID prefix, saved without names. A name that finds nothing is docker's 404.
   */
  async resolveSave(names: readonly string[]): Promise<Awaited<ReturnType<typeof resolveSaveArgs>>> {
    const args: string[] = [];
    for (const name of names) {
      try {
        const r = await this.#service.resolve(name);
        if (r.by === 'id') args.push(...new Set(r.images.map((i) => i.digest)));
        else args.push(name);
      } catch (e) {
        if (!(e instanceof NoSuchImageError)) throw imageError(e);
        // a stored manifest's digest saves that manifest (berth's extra; docker saves image IDs)
        if (/^sha256:[0-9a-f]{64}$/.test(name) && (await this.#stores.content.has(name as Digest))) {
          args.push(name);
          continue;
        }
        let ref: ImageReference | undefined;
        try {
          ref = parseReference(name);
        } catch {
          // not a name: the NoSuchImageError stands
        }
        if (ref === undefined || !ref.tagDefaulted || ref.digest !== undefined || (await this.tagsOf(name)).length === 0) throw imageError(e);
        args.push(name);
      }
    }
    return translating(() => resolveSaveArgs(this.#stores, args));
  }

  async save(items: Awaited<ReturnType<typeof resolveSaveArgs>>, sink: Writable): Promise<unknown> {
    const r = await translating(() => saveImages(this.#stores, items, sink));
    for (const i of items) {
      const id = `sha256:${createHash('sha256').update(i.image.configBytes).digest('hex')}`;
      this.#emit('save', id, id);
    }
    return r;
  }

  async load(source: Readable, log?: (line: string) => void): Promise<LoadResult> {
    const r = await translating(() => loadArchive(this.#stores, source, { ...(log && { log }) }));
    for (const i of r.images) this.#emit('load', i.configDigest, i.configDigest);
    return r;
  }

  async import(source: Readable, opts: { reference?: string; message?: string; changes?: string[]; platform?: string }): Promise<ImportResult> {
    let platform: Platform | undefined;
    if (opts.platform !== undefined && opts.platform !== '') {
      try {
        platform = parsePlatform(opts.platform);
      } catch (e) {
        throw new InvalidParameterError(`invalid platform ${JSON.stringify(opts.platform)}: ${(e as Error).message}`);
      }
    }
    if (opts.reference !== undefined) reference(opts.reference);
    const r = await translating(() => importRootfs(this.#stores, source, {
      sourceName: '-',
      ...(opts.changes && { changes: opts.changes }),
      ...(opts.message !== undefined && opts.message !== '' && { message: opts.message }),
      ...(platform && { platform }),
      ...(opts.reference !== undefined && { reference: opts.reference }),
    }));
    this.#emit('import', r.configDigest, r.configDigest);
    return r;
  }

  /** `POST /auth`: the credentials checked against `serverAddress`'s registry. */
  async login(serverAddress: string, credentials: Credentials): Promise<{ identityToken?: string }> {
    const host = serverAddress === '' ? INDEX_SERVER : serverAddress;
    const domain = isDockerHub(host) ? 'docker.io' : convertToHostname(host);
    return translating(() => new RegistryClient(domain, { credentials, insecure: this.#insecure }).login());
  }
}
