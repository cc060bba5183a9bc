/**
 * The image index: image names (`docker.io/library/busybox:latest`, already normalised by the
 * reference parser) → manifest digest, and each digest → the set of its names. Kept in one JSON
 * file, `{"schemaVersion":1,"names":{NAME: DIGEST}}` (digest → names is derived on read), updated
 * read-modify-write under a lock file (`FILE.lock`, see lock.ts; writers wait for each other) and
 * written to a temp file, fsynced and renamed over, so readers never see a torn file and need
 * no lock.
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

/** A consistent view of the index at one moment. */
export class RefsSnapshot {
  readonly byDigest = new Map<Digest, Set<string>>();
  constructor(readonly names: ReadonlyMap<string, Digest>) {
    for (const [name, d] of names) {
      let set = this.byDigest.get(d);
      if (!set) this.byDigest.set(d, (set = new Set()));
      set.add(name);
    }
  }
}

/** Validates an image name as a key: non-empty printable text without spaces. */
export function validateName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw new StoreError('image name: must be a non-empty string');
  if (name.length > 4096 || /[\s\x00-\x1f\x7f]/.test(name)) {
    throw new StoreError(`image name ${JSON.stringify(name.slice(0, 100))}: contains whitespace or control characters, or is too long`);
  }
  return name;
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

  /** Points `name` at `digest`; returns the digest it pointed at before, if any. */
  async tag(name: string, digest: Digest): Promise<Digest | undefined> {
    validateName(name);
    const d = parseDigest(digest, `tag ${name}`);
    return this.update((names) => {
      const prev = names.get(name);
      names.set(name, d);
      return prev;
    });
  }

  /** Removes `name`; returns the digest it pointed at, or undefined if there was no such name. */
  async untag(name: string): Promise<Digest | undefined> {
    validateName(name);
    return this.update((names) => {
      const prev = names.get(name);
      names.delete(name);
      return prev;
    });
  }

  async resolve(name: string): Promise<Digest | undefined> {
    return (await this.#read()).get(validateName(name));
  }

  /** Names pointing at `digest`, sorted. */
  async namesOf(digest: Digest): Promise<string[]> {
    return [...((await this.snapshot()).byDigest.get(digest) ?? [])].sort();
  }

  /** Every name, sorted by name. */
  async list(): Promise<RefEntry[]> {
    return [...(await this.#read())].map(([name, digest]) => ({ name, digest })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Every digest some name points at: the roots of garbage collection. */
  async roots(): Promise<Set<Digest>> {
    return new Set((await this.#read()).values());
  }

  /**
   * Read-modify-write under the lock: `fn` changes the map (or not); the result is written if it
   * changed. `fn`'s return value is returned.
   */
  async update<T>(fn: (names: Map<string, Digest>) => T | Promise<T>): Promise<T> {
    await mkdir(dirname(this.file), { recursive: true });
    const held = await lock(this.lockPath, `image index ${this.file}`, this.lockTimeoutMs);
    try {
      const names = await this.#read();
      const before = JSON.stringify([...names]);
      const result = await fn(names);
      if (JSON.stringify([...names]) !== before) await this.#write(names);
      return result;
    } finally {
      await held.release();
    }
  }

  async #read(): Promise<Map<string, Digest>> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return new Map();
      throw new StoreError(`image index ${this.file}: read: ${(e as Error).message}`, { cause: e });
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new CorruptError(`image index ${this.file}: not JSON: ${(e as Error).message}`);
    }
    const o = doc as { schemaVersion?: unknown; names?: unknown };
    if (typeof o !== 'object' || o === null || o.schemaVersion !== 1 || typeof o.names !== 'object' || o.names === null) {
      throw new CorruptError(`image index ${this.file}: want {"schemaVersion":1,"names":{…}}`);
    }
    const names = new Map<string, Digest>();
    for (const [name, d] of Object.entries(o.names as Record<string, unknown>)) {
      if (!isDigest(d)) throw new CorruptError(`image index ${this.file}: name ${JSON.stringify(name)}: invalid digest ${JSON.stringify(d)}`);
      names.set(name, d);
    }
    return names;
  }

  async #write(names: Map<string, Digest>): Promise<void> {
    const sorted = Object.fromEntries([...names].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const tmp = `${this.file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      const fh = await open(tmp, 'wx', 0o644);
      try {
        await fh.writeFile(`${JSON.stringify({ schemaVersion: 1, names: sorted }, null, 2)}\n`);
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
