/**
 * Volumes of the local driver, docker 20.10's layout and behaviour:
 *   <data>/volumes/                 0701, as docker's (host users may not list the names)
 *   <data>/volumes/<name>/          0700: host users never reach a volume's data
 *   <data>/volumes/<name>/_data     0755 (or the image directory's mode after copy-up): what
 *                                   containers mount
 *   <data>/volumes/<name>/meta.json driver, labels, options, createdAt, the containers using it
 *
 * A volume is made in `.tmp-*` and renamed into place, and removed by a rename to `.rm-*` before
 * its tree is deleted, so a crash leaves either a whole volume or leftovers `open` deletes.
 * Containers take references with `prepareMounts` (container create) and drop them with
 * `releaseMounts` (container rm); a volume with references is in use: not removed, not pruned,
 * not dangling. A volume with a `device` option has its filesystem mounted on `_data` while it
 * has references (docker mounts at container start; berth at create, so a bundle's bind source
 * is always the real filesystem).
 */
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { ConflictError, InvalidParameterError, NotFoundError, SystemError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { MountPoint } from '../spec/mounts.ts';
import { copyUp } from './copyup.ts';
import { LIST_FILTERS, PRUNE_FILTERS, matchLabels, matchList, validateFilters, type Filters } from './filters.ts';
import { mountVolume, needsMount, unmountVolume, validateOptions } from './local.ts';
import { KeyedLock } from './lock.ts';
import { readMeta, writeMeta, type VolumeMeta, type VolumeUser } from './meta.ts';
import { directorySize } from './size.ts';

/** docker's RestrictedVolumeNamePattern */
export const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const DATA = '_data';

/** Docker's Volume (API v1.41), field order as dockerd sends it. */
export interface Volume {
  CreatedAt: string;
  Driver: string;
  Labels: Record<string, string> | null;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string> | null;
  Scope: 'local';
  Status?: Record<string, unknown>;
  UsageData?: { Size: number; RefCount: number };
}

/** `POST /volumes/create`'s body (VolumeCreateBody) */
export interface VolumeCreateRequest {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

export interface VolumePruneReport {
  VolumesDeleted: string[] | null;
  SpaceReclaimed: number;
}

/** A volume a container mounts, as the container's record and inspect's Mounts need it. */
export interface VolumeMount {
  destination: string;
  name: string;
  /** the host directory the container bind-mounts */
  hostPath: string;
  driver: 'local';
  /** the mount named no volume: `rm -v` removes it */
  anonymous: boolean;
  rw: boolean;
}

export interface PreparedMounts {
  /** host paths by destination: buildSpec's `volumes` */
  paths: Record<string, string>;
  mounts: VolumeMount[];
}

export interface VolumeServiceOptions {
  log?: Logger;
  /** docker's volume events (`create`, `destroy`), for the events module */
  onEvent?: (action: 'create' | 'destroy', name: string, attributes: Record<string, string>) => void;
}

const randomName = (): string => randomBytes(32).toString('hex');

/** time.RFC3339 in the daemon's zone, as docker formats a volume's CreatedAt */
export function rfc3339Local(d: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${zone}`;
}

/** docker's name check (volume/local validateName); the caller prefixes `create NAME: ` */
export function checkVolumeName(name: string): void {
  if (name.length === 1) throw new InvalidParameterError(`create ${name}: volume name is too short, names should be at least two alphanumeric characters`);
  if (!VOLUME_NAME.test(name)) {
    throw new InvalidParameterError(`create ${name}: ${JSON.stringify(name)} includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  }
}

function checkStringMap(v: unknown, where: string): Record<string, string> | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidParameterError(`${where}: want an object of strings`);
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') throw new InvalidParameterError(`${where}.${k}: want a string, got ${x === null ? 'null' : typeof x}`);
  }
  return { ...(v as Record<string, string>) };
}

/** Mount points (from /proc/self/mountinfo) at or below `dir`. */
async function mountsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const p = f[4]!.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (p === dir || p.startsWith(`${dir}/`)) out.push(p);
  }
  return out;
}

export class VolumeService {
  readonly #volumes = new Map<string, VolumeMeta>();
  readonly #lock = new KeyedLock();
  readonly #log: Logger;
  readonly #onEvent: VolumeServiceOptions['onEvent'];

  private constructor(readonly root: string, opts: VolumeServiceOptions) {
    this.#log = opts.log ?? silentLogger;
    this.#onEvent = opts.onEvent;
  }

  /** Opens `<dataRoot>/volumes`: loads every volume, deletes leftovers of a crash, puts device mounts in the state the references say. */
  static async open(dataRoot: string, opts: VolumeServiceOptions = {}): Promise<VolumeService> {
    const root = join(dataRoot, 'volumes');
    await mkdir(root, { recursive: true, mode: 0o701 });
    await chmod(root, 0o701);
    const s = new VolumeService(root, opts);
    for (const entry of await readdir(root)) {
      const dir = join(root, entry);
      if (entry.startsWith('.tmp-') || entry.startsWith('.rm-')) {
        await s.#deleteTree(dir, entry).catch((e: Error) => s.#log.warn(`volumes: leaving ${dir}: ${e.message}`));
        continue;
      }
      if (!VOLUME_NAME.test(entry)) continue;
      try {
        s.#volumes.set(entry, await s.#load(entry));
      } catch (e) {
        s.#log.warn(`volumes: ignoring volume ${entry}: ${(e as Error).message}`);
      }
    }
    for (const meta of s.#volumes.values()) {
      await s.#syncMount(meta).catch((e: Error) => s.#log.error(`volumes: ${meta.name}: ${e.message}`));
    }
    return s;
  }

  async #load(name: string): Promise<VolumeMeta> {
    const dir = join(this.root, name);
    try {
      const meta = await readMeta(dir);
      if (meta.name !== name) throw new Error(`meta.json names volume ${JSON.stringify(meta.name)}`);
      return meta;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    // a volume directory without a record (copied in by hand, as docker would list it): adopt it
    const st = await lstat(join(dir, DATA));
    if (!st.isDirectory()) throw new Error(`${join(dir, DATA)} is not a directory`);
    const meta: VolumeMeta = {
      schemaVersion: 1, name, driver: 'local', labels: null, options: null, createdAt: st.ctime.toISOString(), anonymous: false, users: [],
    };
    await writeMeta(dir, meta);
    return meta;
  }

  dataPath(name: string): string {
    return join(this.root, name, DATA);
  }

  #info(meta: VolumeMeta): Volume {
    return {
      CreatedAt: rfc3339Local(new Date(meta.createdAt)),
      Driver: meta.driver,
      Labels: meta.labels,
      Mountpoint: this.dataPath(meta.name),
      Name: meta.name,
      Options: meta.options,
      Scope: 'local',
    };
  }

  #get(name: string, op: string): VolumeMeta {
    const meta = this.#volumes.get(name);
    if (!meta) throw new NotFoundError(`${op} ${name}: no such volume`);
    return meta;
  }

  /** A device-backed volume is mounted exactly while it has users. */
  async #syncMount(meta: VolumeMeta): Promise<void> {
    if (!needsMount(meta.options)) return;
    const data = this.dataPath(meta.name);
    if (meta.users.length === 0) {
      await unmountVolume(data);
      return;
    }
    if ((await mountsUnder(data)).includes(data)) return;
    await mountVolume(meta.options!, data);
  }

  async #save(meta: VolumeMeta): Promise<void> {
    await writeMeta(join(this.root, meta.name), meta);
  }

  /** Makes the volume on disk (tmp dir renamed into place) and in the map. */
  async #make(meta: VolumeMeta): Promise<void> {
    const tmp = join(this.root, `.tmp-${randomBytes(8).toString('hex')}`);
    try {
      await mkdir(tmp, { mode: 0o700 });
      await mkdir(join(tmp, DATA), { mode: 0o755 });
      await chmod(join(tmp, DATA), 0o755);
      await writeMeta(tmp, meta);
      await rename(tmp, join(this.root, meta.name));
    } catch (e) {
      await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') throw new ConflictError(`create ${meta.name}: volume already exists under ${join(this.root, meta.name)}`);
      throw new SystemError(`create ${meta.name}: ${(e as Error).message}`, { cause: e });
    }
    this.#volumes.set(meta.name, meta);
    this.#onEvent?.('create', meta.name, { driver: meta.driver });
  }

  /** Deletes a volume tree that is out of the map: never through a mount (a bind device is the host's data). */
  async #deleteTree(dir: string, name: string): Promise<void> {
    await unmountVolume(join(dir, DATA));
    const mounts = await mountsUnder(dir);
    if (mounts.length > 0) throw new SystemError(`remove ${name}: ${mounts[0]} is still mounted`);
    await rm(dir, { recursive: true, force: true });
  }

  /** Removes a volume without users (the caller holds its lock). */
  async #destroy(meta: VolumeMeta): Promise<void> {
    const dir = join(this.root, meta.name);
    const data = this.dataPath(meta.name);
    if (needsMount(meta.options)) await unmountVolume(data);
    const mounts = await mountsUnder(dir);
    if (mounts.length > 0) throw new SystemError(`remove ${meta.name}: ${mounts[0]} is mounted (not made by berth); unmount it first`);
    const gone = join(this.root, `.rm-${meta.name}-${randomBytes(4).toString('hex')}`);
    try {
      await rename(dir, gone);
    } catch (e) {
      throw new SystemError(`remove ${meta.name}: ${(e as Error).message}`, { cause: e });
    }
    this.#volumes.delete(meta.name);
    this.#onEvent?.('destroy', meta.name, { driver: meta.driver });
    // the rename made the removal; a failure here leaves `.rm-*`, which the next open deletes
    await rm(gone, { recursive: true, force: true }).catch((e: Error) => this.#log.warn(`volumes: leaving ${gone}: ${e.message}`));
  }

  // ---- the API's verbs

  async create(req: VolumeCreateRequest): Promise<Volume> {
    const driver = req.Driver || 'local';
    if (typeof driver !== 'string') throw new InvalidParameterError('Driver: want a string');
    if (req.Name !== undefined && req.Name !== null && typeof req.Name !== 'string') throw new InvalidParameterError('Name: want a string');
    const name = req.Name || randomName();
    const labels = checkStringMap(req.Labels, 'Labels');
    const options = checkStringMap(req.DriverOpts, 'DriverOpts');
    if (driver !== 'local') throw new NotFoundError(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    checkVolumeName(name);
    try {
      validateOptions(options);
    } catch (e) {
      throw new InvalidParameterError(`create ${name}: ${(e as Error).message}`);
    }
    return this.#lock.with(name, async () => {
      const existing = this.#volumes.get(name);
      if (existing) return this.#info(existing); // docker: create of an existing name returns it as it is
      const meta: VolumeMeta = {
        schemaVersion: 1, name, driver: 'local', labels, options, createdAt: new Date().toISOString(), anonymous: false, users: [],
      };
      await this.#make(meta);
      return this.#info(meta);
    });
  }

  async inspect(name: string): Promise<Volume> {
    return this.#info(this.#get(name, 'get'));
  }

  async list(filters: Filters = {}): Promise<{ Volumes: Volume[]; Warnings: string[] | null }> {
    validateFilters(filters, LIST_FILTERS);
    const metas = [...this.#volumes.values()].filter((m) => matchList(filters, m)).sort((a, b) => a.name.localeCompare(b.name));
    return { Volumes: metas.map((m) => this.#info(m)), Warnings: null };
  }

  /** docker's `remove NAME: volume is in use - [IDS]`; `force` only forgives a missing volume, as docker's. */
  async remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.#lock.with(name, async () => {
      const meta = this.#volumes.get(name);
      if (!meta) {
        if (opts.force) return;
        throw new NotFoundError(`get ${name}: no such volume`);
      }
      if (meta.users.length > 0) {
        const ids = [...new Set(meta.users.map((u) => u.containerId))];
        throw new ConflictError(`remove ${name}: volume is in use - [${ids.join(', ')}]`);
      }
      await this.#destroy(meta);
    });
  }

  /** API 1.41 (docker 20.10): every unused volume the label filters select, named or anonymous. */
  async prune(filters: Filters = {}): Promise<VolumePruneReport> {
    validateFilters(filters, PRUNE_FILTERS);
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const name of [...this.#volumes.keys()]) {
      await this.#lock.with(name, async () => {
        const meta = this.#volumes.get(name);
        if (!meta || meta.users.length > 0 || !matchLabels(filters, meta.labels)) return;
        try {
          const size = await directorySize(this.dataPath(name)).catch(() => 0);
          await this.#destroy(meta);
          deleted.push(name);
          reclaimed += size;
        } catch (e) {
          this.#log.warn(`volumes: prune: ${(e as Error).message}`);
        }
      });
    }
    return { VolumesDeleted: deleted.length > 0 ? deleted : null, SpaceReclaimed: reclaimed };
  }

  /** Every volume with docker's UsageData (`system df`): size of `_data`, number of containers using it. */
  async usage(): Promise<Volume[]> {
    const out: Volume[] = [];
    for (const meta of [...this.#volumes.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      const size = await directorySize(this.dataPath(meta.name)).catch(() => -1);
      out.push({ ...this.#info(meta), UsageData: { Size: size, RefCount: new Set(meta.users.map((u) => u.containerId)).size } });
    }
    return out;
  }

  // ---- what container create / rm call

  /**
   * Gives container `containerId` its volumes: for each `volume` mount point, the named volume
   * (created when missing) or a new anonymous one, a reference recorded in the volume's meta,
   * its filesystem mounted if it has a device, and, unless `nocopy`, the image's content at the
   * destination copied into it when it is empty (`rootfs`: the container's mounted rootfs; none,
   * no copy). Bind and tmpfs mount points are not the service's and are skipped. On failure
   * every reference taken here is dropped and the anonymous volumes made here are removed.
   */
  async prepareMounts(containerId: string, mountPoints: readonly MountPoint[], rootfs?: string): Promise<PreparedMounts> {
    const out: PreparedMounts = { paths: {}, mounts: [] };
    try {
      for (const mp of mountPoints) {
        if (mp.type !== 'volume') continue;
        const anonymous = mp.source === '';
        const name = anonymous ? randomName() : mp.source;
        if (!anonymous) checkVolumeName(name);
        await this.#lock.with(name, async () => {
          let meta = this.#volumes.get(name);
          if (!meta) {
            const driver = mp.volumeDriver || 'local';
            if (driver !== 'local') throw new NotFoundError(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
            const options = mp.volumeOptions ? { ...mp.volumeOptions } : null;
            try {
              validateOptions(options);
            } catch (e) {
              throw new InvalidParameterError(`create ${name}: ${(e as Error).message}`);
            }
            const labels = mp.volumeLabels ? { ...mp.volumeLabels } : null;
            meta = { schemaVersion: 1, name, driver: 'local', labels, options, createdAt: new Date().toISOString(), anonymous, users: [] };
            meta.users.push({ containerId, destination: mp.destination, anonymous, rw: mp.rw });
            await this.#make(meta);
          } else if (!meta.users.some((u) => u.containerId === containerId && u.destination === mp.destination)) {
            meta.users.push({ containerId, destination: mp.destination, anonymous, rw: mp.rw });
            await this.#save(meta);
          }
          await this.#syncMount(meta);
          const data = this.dataPath(name);
          if (rootfs !== undefined && !mp.noCopy) await copyUp(data, rootfs, mp.destination);
          out.paths[mp.destination] = data;
          out.mounts.push({ destination: mp.destination, name, hostPath: data, driver: 'local', anonymous, rw: mp.rw });
        });
      }
    } catch (e) {
      await this.releaseMounts(containerId, true).catch((e2: Error) => this.#log.error(`volumes: undoing ${containerId}'s mounts: ${e2.message}`));
      throw e;
    }
    return out;
  }

  /**
   * Drops every reference of `containerId`; a device-backed volume left without users is
   * unmounted. `removeAnonymous` (`rm -v`): the volumes the container mounted anonymously are
   * removed too, unless another container still uses them (docker ignores that case silently).
   */
  async releaseMounts(containerId: string, removeAnonymous: boolean): Promise<void> {
    const errors: string[] = [];
    for (const name of [...this.#volumes.keys()]) {
      if (!this.#volumes.get(name)?.users.some((u) => u.containerId === containerId)) continue;
      await this.#lock.with(name, async () => {
        const meta = this.#volumes.get(name);
        if (!meta) return;
        const mine = meta.users.filter((u) => u.containerId === containerId);
        if (mine.length === 0) return;
        meta.users = meta.users.filter((u) => u.containerId !== containerId);
        try {
          await this.#save(meta);
          await this.#syncMount(meta);
          if (removeAnonymous && meta.users.length === 0 && mine.some((u) => u.anonymous)) await this.#destroy(meta);
        } catch (e) {
          errors.push((e as Error).message);
        }
      });
    }
    if (errors.length > 0) throw new SystemError(`releasing the volumes of ${containerId}: ${errors.join('; ')}`);
  }

  /** The volumes `containerId` mounts (from the volumes' records: survives a restart). */
  mountsOf(containerId: string): VolumeMount[] {
    const out: VolumeMount[] = [];
    for (const meta of this.#volumes.values()) {
      for (const u of meta.users) {
        if (u.containerId !== containerId) continue;
        out.push({ destination: u.destination, name: meta.name, hostPath: this.dataPath(meta.name), driver: 'local', anonymous: u.anonymous, rw: u.rw });
      }
    }
    return out;
  }

  /** The users of a volume (container ids), for `ps --filter volume=` and tests. */
  usersOf(name: string): string[] {
    return [...new Set(this.#get(name, 'get').users.map((u) => u.containerId))];
  }

  /**
   * After the container store is loaded: drops the references of containers that no longer
   * exist (berthd killed between a volume reference and the container's record, or a record
   * removed while berthd was down). Their anonymous volumes stay, dangling, as docker leaves them.
   */
  async reconcile(liveContainerIds: Iterable<string>): Promise<void> {
    const live = new Set(liveContainerIds);
    const stale = new Set<string>();
    for (const meta of this.#volumes.values()) for (const u of meta.users) if (!live.has(u.containerId)) stale.add(u.containerId);
    for (const id of stale) {
      this.#log.info(`volumes: dropping the references of container ${id}, which no longer exists`);
      await this.releaseMounts(id, false);
    }
  }

  /** VolumeUser of each volume (for tests and `explain`). */
  referencesOf(name: string): readonly VolumeUser[] {
    return this.#get(name, 'get').users;
  }
}
