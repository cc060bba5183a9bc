/**
 * The image index: image names (`docker.io/library/busybox:latest`, already normalised by the
 * reference parser) → manifest digest, and the images present, by manifest digest, with what a
 * name cannot say: when the image was added and last tagged, and the index digest it was pulled
 * through (docker's RepoDigest). An image outlives its names: untagging (or moving) its last name
 * leaves it dangling (`<none>:<none>`) until it is removed or pruned.
 *
 * One JSON file, `{"schemaVersion":1,"names":{NAME: DIGEST},"images":{DIGEST: RECORD}}` (digest →
 * names is derived on read; files written before `images` existed are read as if every named
 * digest had a record without times), updated read-modify-write under a lock file (`FILE.lock`,
 * see lock.ts; writers wait for each other) and written to a temp file, fsynced and renamed over,
 * so readers never see a torn file and need no lock.
 *
 * A name carrying a digest (`repo@sha256:…`, what a pull by digest records) may only point at the
 * content whose digest it is: the manifest, or the index it was pulled through. `tag` refuses
 * anything else, and a file holding such a name (written by an older berth, or edited) has it
 * dropped on read, so a digest name never resolves to another image.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isDigest, parseDigest, type Digest } from './digest.ts';
import { CorruptError, StoreError, errnoCode } from './errors.ts';
import { lock } from './lock.ts';

export interface RefEntry {
  name: string;
  digest: Digest;
}

/** What the index knows of an image (keyed by its manifest digest) beyond its names. */
export interface ImageRecord {
  /** when it was first recorded (ISO 8601); absent for images recorded before records existed */
  addedAt?: string;
  /** when a name was last pointed at it (docker's Metadata.LastTagTime) */
  lastTagTime?: string;
  /** the manifest list / OCI index it was pulled through, if any */
  indexDigest?: Digest;
}

/** The index as one value: what `update` hands to its callback. */
export interface RefsState {
  names: Map<string, Digest>;
  images: Map<Digest, ImageRecord>;
}

/** An image of the index with its names. */
export interface ImageEntry {
  digest: Digest;
  record: ImageRecord;
  /** sorted; empty for a dangling image */
  names: string[];
}

/** A consistent view of the index at one moment. */
export class RefsSnapshot {
  readonly byDigest = new Map<Digest, Set<string>>();
  readonly names: ReadonlyMap<string, Digest>;
  readonly images: ReadonlyMap<Digest, ImageRecord>;
  constructor(state: RefsState) {
    this.names = state.names;
    this.images = state.images;
    for (const [name, d] of state.names) {
      let set = this.byDigest.get(d);
      if (!set) this.byDigest.set(d, (set = new Set()));
      set.add(name);
    }
  }

  /** Every image with its names, in digest order. */
  entries(): ImageEntry[] {
    return [...this.images].sort(([a], [b]) => cmp(a, b)).map(([digest, record]) => ({
      digest, record, names: [...(this.byDigest.get(digest) ?? [])].sort(cmp),
    }));
  }
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Validates an image name as a key: non-empty printable text without spaces. */
export function validateName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw new StoreError('image name: must be a non-empty string');
  if (name.length > 4096 || /[\s\x00-\x1f\x7f]/.test(name)) {
    throw new StoreError(`image name ${JSON.stringify(name.slice(0, 100))}: contains whitespace or control characters, or is too long`);
  }
  return name;
}

/** The digest a name carries (`repo@sha256:…`, `repo:tag@sha256:…`), if any. */
export function nameDigest(name: string): string | undefined {
  const at = name.lastIndexOf('@');
  return at < 0 ? undefined : name.slice(at + 1);
}

/** Whether `name` may point at manifest `digest` whose image was pulled through `indexDigest`. */
function nameFits(name: string, digest: Digest, indexDigest: Digest | undefined): boolean {
  const nd = nameDigest(name);
  return nd === undefined || nd === digest || (indexDigest !== undefined && nd === indexDigest);
}

export interface TagOptions {
  /** the index the image was pulled through (recorded on the image: its RepoDigest) */
  indexDigest?: Digest;
}

export class ImageRefs {
  readonly lockPath: string;

  /** `file` is the JSON index (e.g. `<root>/refs.json`); it is created on the first tag. */
  constructor(readonly file: string, readonly lockTimeoutMs = 10_000) {
    this.lockPath = `${file}.lock`;
  }

  /** The whole index as it is on disk now. */
  async snapshot(): Promise<RefsSnapshot> {
    return new RefsSnapshot(await this.#read());
  }

  /**
   * Points `name` at `digest` and records the image (with `opts.indexDigest`); returns the digest
   * it pointed at before, if any. The image it pointed at stays, dangling if that was its last name.
   */
  async tag(name: string, digest: Digest, opts: TagOptions = {}): Promise<Digest | undefined> {
    validateName(name);
    const d = parseDigest(digest, `tag ${name}`);
    const index = opts.indexDigest === undefined ? undefined : parseDigest(opts.indexDigest, `tag ${name}: index digest`);
    return this.update(({ names, images }) => {
      if (!nameFits(name, d, index ?? images.get(d)?.indexDigest)) {
        throw new StoreError(`tag ${name}: a name with a digest can only point at the manifest (or index) of that digest, not at ${d}`);
      }
      const prev = names.get(name);
      const now = new Date().toISOString();
      const rec = images.get(d) ?? { addedAt: now };
      // Pulling a name again that already points here is not a new tag (docker keeps LastTagTime).
      if (prev !== d) rec.lastTagTime = now;
      if (index !== undefined) rec.indexDigest = index;
      images.set(d, rec);
      names.set(name, d);
      return prev;
    });
  }

  /** Removes `name`; returns the digest it pointed at, or undefined if there was no such name. The image stays. */
  async untag(name: string): Promise<Digest | undefined> {
    validateName(name);
    return this.update(({ names }) => {
      const prev = names.get(name);
      names.delete(name);
      return prev;
    });
  }

  /**
   * Forgets image `digest` and every name pointing at it (its blobs become garbage unless
   * something else references them); returns the names removed, or undefined if there was no
   * such image.
   */
  async removeImage(digest: Digest): Promise<string[] | undefined> {
    const d = parseDigest(digest, 'remove image');
    return this.update(({ names, images }) => {
      const removed = [...names].filter(([, v]) => v === d).map(([n]) => n).sort(cmp);
      if (!images.has(d) && removed.length === 0) return undefined;
      for (const n of removed) names.delete(n);
      images.delete(d);
      return removed;
    });
  }

  async resolve(name: string): Promise<Digest | undefined> {
    return (await this.#read()).names.get(validateName(name));
  }

  /** Names pointing at `digest`, sorted. */
  async namesOf(digest: Digest): Promise<string[]> {
    return [...((await this.snapshot()).byDigest.get(digest) ?? [])].sort(cmp);
  }

  /** Every name, sorted by name. */
  async list(): Promise<RefEntry[]> {
    return [...(await this.#read()).names].map(([name, digest]) => ({ name, digest })).sort((a, b) => cmp(a.name, b.name));
  }

  /** Every image (tagged or dangling) with its names. */
  async images(): Promise<ImageEntry[]> {
    return (await this.snapshot()).entries();
  }

  /** Every digest an image of the index stands on (manifests and the indexes they came through): the roots of garbage collection. */
  async roots(): Promise<Set<Digest>> {
    const { names, images } = await this.#read();
    const out = new Set<Digest>(names.values());
    for (const [d, rec] of images) {
      out.add(d);
      if (rec.indexDigest !== undefined) out.add(rec.indexDigest);
    }
    return out;
  }

  /**
   * Read-modify-write under the lock: `fn` changes the state (or not); the result is written if it
   * changed. Every named digest keeps an image record. `fn`'s return value is returned.
   */
  async update<T>(fn: (state: RefsState) => T | Promise<T>): Promise<T> {
    await mkdir(dirname(this.file), { recursive: true });
    const held = await lock(this.lockPath, `image index ${this.file}`, this.lockTimeoutMs);
    try {
      const state = await this.#read();
      const before = serialize(state);
      const result = await fn(state);
      for (const d of state.names.values()) if (!state.images.has(d)) state.images.set(d, { addedAt: new Date().toISOString() });
      const after = serialize(state);
      if (after !== before) await this.#write(after);
      return result;
    } finally {
      await held.release();
    }
  }

  async #read(): Promise<RefsState> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return { names: new Map(), images: new Map() };
      throw new StoreError(`image index ${this.file}: read: ${(e as Error).message}`, { cause: e });
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new CorruptError(`image index ${this.file}: not JSON: ${(e as Error).message}`);
    }
    const o = doc as { schemaVersion?: unknown; names?: unknown; images?: unknown };
    if (typeof o !== 'object' || o === null || o.schemaVersion !== 1 || typeof o.names !== 'object' || o.names === null) {
      throw new CorruptError(`image index ${this.file}: want {"schemaVersion":1,"names":{…}}`);
    }
    const names = new Map<string, Digest>();
    for (const [name, d] of Object.entries(o.names as Record<string, unknown>)) {
      if (!isDigest(d)) throw new CorruptError(`image index ${this.file}: name ${JSON.stringify(name)}: invalid digest ${JSON.stringify(d)}`);
      names.set(name, d);
    }
    const images = new Map<Digest, ImageRecord>();
    if (o.images !== undefined) {
      if (typeof o.images !== 'object' || o.images === null || Array.isArray(o.images)) {
        throw new CorruptError(`image index ${this.file}: "images" is not an object`);
      }
      for (const [d, rec] of Object.entries(o.images as Record<string, unknown>)) {
        if (!isDigest(d)) throw new CorruptError(`image index ${this.file}: images: invalid digest ${JSON.stringify(d)}`);
        images.set(d, parseRecord(rec, `image index ${this.file}: images.${d}`));
      }
    }
    // Files from before "images": every named digest is an image whose times are unknown.
    for (const d of names.values()) if (!images.has(d)) images.set(d, {});
    // A digest name pointing elsewhere (older berths recorded loaded `repo@digest` RepoTags as
    // they were) would resolve that digest to another image: it is not trusted, and the next
    // write drops it. Its image stays (dangling if that was its only name).
    for (const [name, d] of names) if (!nameFits(name, d, images.get(d)?.indexDigest)) names.delete(name);
    return { names, images };
  }

  async #write(text: string): Promise<void> {
    const tmp = `${this.file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      const fh = await open(tmp, 'wx', 0o644);
      try {
        await fh.writeFile(text);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.file);
    } catch (e) {
      await rm(tmp, { force: true });
      throw new StoreError(`image index ${this.file}: write: ${(e as Error).message}`, { cause: e });
    }
    const dir = await open(dirname(this.file), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}

function parseRecord(v: unknown, where: string): ImageRecord {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CorruptError(`${where}: not an object`);
  const o = v as Record<string, unknown>;
  const rec: ImageRecord = {};
  for (const k of ['addedAt', 'lastTagTime'] as const) {
    if (o[k] === undefined) continue;
    if (typeof o[k] !== 'string' || Number.isNaN(Date.parse(o[k] as string))) throw new CorruptError(`${where}.${k}: not a date`);
    rec[k] = o[k] as string;
  }
  if (o.indexDigest !== undefined) {
    if (!isDigest(o.indexDigest)) throw new CorruptError(`${where}.indexDigest: invalid digest ${JSON.stringify(o.indexDigest)}`);
    rec.indexDigest = o.indexDigest;
  }
  return rec;
}

/** The file's text: names and images sorted, so equal states give equal text. */
function serialize(state: RefsState): string {
  const names = Object.fromEntries([...state.names].sort(([a], [b]) => cmp(a, b)));
  const images = Object.fromEntries([...state.images].sort(([a], [b]) => cmp(a, b)));
  return `${JSON.stringify({ schemaVersion: 1, names, images }, null, 2)}\n`;
}
