/**
 * Container records on disk and in memory: `<data>/containers/<id>/config.v2.json` (the record)
 * and `hostconfig.json` (the HostConfig as given), each written to a temp file, fsynced and
 * renamed, so a crash leaves the old record or the new one. Names are an in-memory index rebuilt
 * from the records at open; lookups take docker's forms: full ID, unique ID prefix, name.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { ConflictError, InvalidParameterError, NotFoundError } from '../errors.ts';
import type { ContainerRecord, HostConfig } from './types.ts';

/** docker's daemon/names: an optional slash, then [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
const NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const ID_RE = /^[0-9a-f]{64}$/;

export interface Loaded {
  rec: ContainerRecord;
  hostConfig: HostConfig;
}

async function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

/** `/web` from `web` or `/web`; docker's message for a bad one. */
export function normalizeName(name: string): string {
  if (!NAME_RE.test(name)) throw new InvalidParameterError(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  return name.startsWith('/') ? name : `/${name}`;
}

export class ContainerStore {
  readonly #byId = new Map<string, Loaded>();
  readonly #names = new Map<string, string>();

  private constructor(readonly root: string) {}

  /** Opens `<data>/containers`, reading every record (a directory without a readable one is reported to `onBad`). */
  static async open(root: string, onBad: (dir: string, why: string) => void): Promise<ContainerStore> {
    await mkdir(root, { recursive: true, mode: 0o700 });
    const s = new ContainerStore(root);
    for (const id of await readdir(root)) {
      if (!ID_RE.test(id)) continue;
      try {
        const rec = JSON.parse(await readFile(join(root, id, 'config.v2.json'), 'utf8')) as ContainerRecord;
        let hostConfig: HostConfig = {};
        try {
          hostConfig = JSON.parse(await readFile(join(root, id, 'hostconfig.json'), 'utf8')) as HostConfig;
        } catch { /* a create that died before writing it: reconcile removes the record */ }
        s.#byId.set(id, { rec, hostConfig });
        if (!s.#names.has(rec.name)) s.#names.set(rec.name, id);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync(join(root, id, 'bundle'))) {
          // a create killed between making the directory and its first record: nothing else was made yet
          await rm(join(root, id), { recursive: true, force: true });
          onBad(join(root, id), 'a create interrupted before its record was written: removed');
          continue;
        }
        onBad(join(root, id), (e as Error).message);
      }
    }
    return s;
  }

  dir(id: string): string {
    return join(this.root, id);
  }

  /** A new 64-hex ID whose 12-digit short form no other container has (socket paths use it). */
  newId(): string {
    for (;;) {
      const id = randomBytes(32).toString('hex');
      // docker's rule: a short ID that is all digits would read as a number
      if (/^[0-9]{12}/.test(id)) continue;
      if ([...this.#byId.keys()].some((k) => k.slice(0, 12) === id.slice(0, 12))) continue;
      return id;
    }
  }

  /** Takes `name` for `id`, or docker's conflict. */
  reserveName(name: string, id: string): void {
    const owner = this.#names.get(name);
    if (owner !== undefined && owner !== id) {
      throw new ConflictError(`Conflict. The container name "${name}" is already in use by container "${owner}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    this.#names.set(name, id);
  }

  /** Whether `name` (`/web`) is taken, by a record or by a create that reserved it and has none yet. */
  nameTaken(name: string): boolean {
    return this.#names.has(name);
  }

  releaseName(name: string, id: string): void {
    if (this.#names.get(name) === id) this.#names.delete(name);
  }

  /** Adds a record (its directory made 0700) and writes it. */
  async add(l: Loaded): Promise<void> {
    // not recursive: the root exists, and a recursive mkdir reports a full disk as ENOENT
    // (which the docker CLI would even take for a missing command: exit 127)
    await mkdir(this.dir(l.rec.id), { mode: 0o700 });
    this.#byId.set(l.rec.id, l);
    await this.save(l.rec.id);
  }

  async save(id: string): Promise<void> {
    const l = this.#byId.get(id);
    if (!l) return;
    await writeAtomic(join(this.dir(id), 'config.v2.json'), JSON.stringify(l.rec));
    await writeAtomic(join(this.dir(id), 'hostconfig.json'), JSON.stringify(l.hostConfig));
  }

  /** Forgets `id` and removes its directory. */
  async drop(id: string): Promise<void> {
    const l = this.#byId.get(id);
    if (l) this.releaseName(l.rec.name, id);
    this.#byId.delete(id);
    await rm(this.dir(id), { recursive: true, force: true });
  }

  all(): Loaded[] {
    return [...this.#byId.values()];
  }

  /** docker's lookup: full ID, then name, then unique ID prefix; else `No such container: x`. */
  get(ref: string): Loaded {
    const l = this.find(ref);
    if (!l) throw new NotFoundError(`No such container: ${ref}`);
    return l;
  }

  find(ref: string): Loaded | undefined {
    if (ref === '') return undefined;
    const full = this.#byId.get(ref);
    if (full) return full;
    const byName = this.#names.get(ref.startsWith('/') ? ref : `/${ref}`);
    if (byName) return this.#byId.get(byName);
    if (!/^[0-9a-f]+$/.test(ref)) return undefined;
    const hits = [...this.#byId.keys()].filter((k) => k.startsWith(ref));
    if (hits.length > 1) throw new InvalidParameterError(`Multiple IDs found with provided prefix: ${ref}`);
    return hits.length === 1 ? this.#byId.get(hits[0]!) : undefined;
  }
}
