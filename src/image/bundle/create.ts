/**
 * Bundles on disk from images in a berth root, for `berth-oci run --bundle DIR`:
 *   DIR/rootfs            overlay mount: the image's snapshots (lower) + DIR/.berth/upper
 *   DIR/.berth/upper      the container's writable layer (and DIR/.berth/work, overlay's work dir)
 *   DIR/.berth/bundle.json what was done: image, digests, chain IDs referenced (owner = DIR)
 *   DIR/config.json       specFromImage(image config, { args, rootfs })
 * The berth root holds content/ (blobs), refs.json (names) and snapshot/ (unpacked layers).
 */
import { chmod, mkdir, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseReference } from '../reference.ts';
import { isDigest, type Digest } from '../store/digest.ts';
import { errnoCode } from '../store/errors.ts';
import { detectMediaType, parseManifest } from '../registry/media.ts';
import { pullAndUnpack, type PullAndUnpackOptions } from '../pull.ts';
import { SnapshotStore, chainIds, layerRefs, type LayerRef } from '../snapshot/index.ts';
import { mountOverlay, unmountOverlay } from './overlay.ts';
import { specFromImage } from './config.ts';
import type { Spec } from '../../runtime/spec/types.ts';
import { ImageService } from '../images/service.ts';
import { privateDir, type BerthStores } from '../stores.ts';
import { BundleError, readBundleRecord, writeRecord, type BundleRecord } from './record.ts';

export { BundleError, readBundleRecord, type BundleRecord };
import { NoSuchImageError } from '../images/errors.ts';


export interface CreateBundleOptions {
  /** replaces the image's Cmd */
  args?: string[];
  /** pull the image when refs.json does not name it (default true) */
  pull?: boolean;
  pullOptions?: PullAndUnpackOptions;
  /** progress lines */
  log?: (line: string) => void;
  /**
   * Makes config.json instead of specFromImage (berthd: docker's Config and HostConfig over the
   * image's); given the image config blob (parsed JSON) and the mounted rootfs, where user names
   * are looked up.
   */
  spec?: (imageConfig: unknown, rootfs: string) => Spec | Promise<Spec>;
  /** called as each phase ends: the image resolved, its layers prepared, the overlay mounted, config.json written */
  onPhase?: (phase: 'resolve' | 'layers' | 'overlay' | 'spec') => void;
}


/**
 * Resolves `image` to a manifest digest in the root as docker resolves a local image (a name, an
 * image ID `sha256:<id>` or bare, or a unique prefix of one: see ImageService.resolve), else a
 * `repo@digest` whose manifest is stored; pulls it when none is local (and pulling is allowed).
 * An ID is never sent to a registry: parseReference refuses the full forms, and a short ID found
 * here is not pulled.
 */
async function resolveImage(stores: BerthStores, image: string, opts: CreateBundleOptions): Promise<{ name: string; digest: Digest }> {
  try {
    const r = await new ImageService(stores).resolve(image);
    if (r.by === 'name') return { name: r.name, digest: r.image.digest };
    // by ID: any manifest with that config has the same layers; named after one of its names if any
    const img = r.images.find((i) => i.names.length > 0) ?? r.images[0]!;
    return { name: img.names[0] ?? r.id, digest: img.digest };
  } catch (e) {
    if (!(e instanceof NoSuchImageError)) throw e;
  }
  const ref = parseReference(image);
  const name = ref.toString();
  // a stored manifest is the content of its digest, whichever repository names it
  if (ref.digest !== undefined && isDigest(ref.digest) && (await stores.content.has(ref.digest))) return { name, digest: ref.digest };
  if (opts.pull === false) throw new BundleError(`image ${name}: not in ${stores.refs.file} (pull it first)`);
  opts.log?.(`pulling ${name}`);
  const r = await pullAndUnpack(stores, name, opts.pullOptions);
  opts.log?.(`pulled ${r.name}@${r.manifestDigest}`);
  return { name: r.name, digest: r.manifestDigest };
}

/** Creates the bundle DIR from `image` (see the file comment); on failure nothing is left behind. */
export async function createBundle(stores: BerthStores, image: string, dirArg: string, opts: CreateBundleOptions = {}): Promise<BundleRecord> {
  const dir = resolve(dirArg);
  const where = `bundle ${dir}`;
  const { name, digest } = await resolveImage(stores, image, opts);

  const manifestBytes = await stores.content.readAll(digest);
  const manifest = parseManifest(manifestBytes, detectMediaType(manifestBytes, undefined), `manifest ${name}@${digest}`);
  const configBytes = await stores.content.readAll(manifest.config.digest);
  let layers: LayerRef[];
  try {
    layers = layerRefs(manifest.layers, configBytes, `image ${name}: config ${manifest.config.digest}`);
  } catch (e) {
    throw new BundleError((e as Error).message, { cause: e });
  }
  const ids = chainIds(layers.map((l) => l.diffId));
  opts.onPhase?.('resolve');

  // The bundle dir: new, or an existing empty one. Either way only root may enter it: the rootfs
  // mounted in it shows the image's setuid-root programs, which anyone reaching DIR/rootfs could
  // run as root. The mount's own root must stay 0755 (it is the container's "/", which its
  // non-root users walk), so DIR is what keeps others out.
  let created = false;
  try {
    await mkdir(dir, { mode: 0o700 });
    created = true;
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST') throw new BundleError(`${where}: cannot create the directory: ${(e as Error).message}`);
    const entries = await readdir(dir).catch((e2: Error) => { throw new BundleError(`${where}: exists and cannot be read: ${e2.message}`); });
    if (entries.length > 0) throw new BundleError(`${where}: exists and is not empty (remove it, or pick another directory)`);
  }
  try {
    await privateDir(dir);
  } catch (e) {
    if (created) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw new BundleError(`${where}: cannot make the directory private (mode 0700): ${(e as Error).message}`);
  }
  const rootfs = join(dir, 'rootfs');
  const upper = join(dir, '.berth', 'upper');
  const work = join(dir, '.berth', 'work');
  let referenced = false;
  let mounted = false;
  try {
    for (const d of [join(dir, '.berth'), rootfs, work]) await mkdir(d, { recursive: true, mode: 0o700 });
    // the upper dir's root is the mount's root, the container's "/": 0755 whatever the umask
    await mkdir(upper, { mode: 0o755 });
    await chmod(upper, 0o755);
    const rec: BundleRecord = {
      schemaVersion: 1, image: name, manifestDigest: digest, configDigest: manifest.config.digest,
      chainIds: ids, owner: dir, root: stores.root, mounted: false, createdAt: new Date().toISOString(),
    };
    // the record before any reference: a process killed from here on leaves a bundle removeBundle
    // can undo (it drops every chain ID's reference, taken or not)
    await writeRecord(dir, rec);
    opts.log?.(`preparing ${layers.length} layer(s)`);
    referenced = true; // prepare may reference some before failing
    const lowers = await stores.snapshots.prepare(layers, stores.content, { owner: dir });
    opts.onPhase?.('layers');
    await mountOverlay(rootfs, upper, work, lowers);
    mounted = true;
    rec.mounted = true;
    await writeRecord(dir, rec);
    opts.onPhase?.('overlay');
    const imageConfig: unknown = JSON.parse(configBytes.toString('utf8'));
    const spec = opts.spec ? await opts.spec(imageConfig, rootfs) : specFromImage(imageConfig, { ...(opts.args !== undefined && { args: opts.args }), rootfs });
    await writeFile(join(dir, 'config.json'), JSON.stringify(spec, null, 2) + '\n');
    opts.onPhase?.('spec');
    return rec;
  } catch (e) {
    if (mounted) await unmountOverlay(rootfs).catch(() => undefined);
    if (referenced) for (const id of ids) await stores.snapshots.unref(id, dir).catch(() => undefined);
    if (created) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    else {
      for (const n of ['rootfs', '.berth', 'config.json']) await rm(join(dir, n), { recursive: true, force: true }).catch(() => undefined);
    }
    if (e instanceof BundleError) throw e;
    throw new BundleError(`${where}: from image ${name}: ${(e as Error).message}`, { cause: e });
  }
}

const unescapeMount = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Whether `path` is a mount point in this process's mount namespace. */
export function isMountPoint(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => {
    const f = l.split(' ');
    return f.length > 4 && unescapeMount(f[4]!) === path;
  });
}

/**
 * Processes in other mount namespaces whose root filesystem is the overlay with upper dir `upper`
 * (a container berth-oci runs on it): one pid per namespace. Unmounting the host's mount would
 * not fail for them (their copy stays), so this is what says a bundle is busy. A namespace that
 * only holds a copy of the mount elsewhere is no user: every container's create clones the host's
 * mount table (other containers' overlays with it) and drops the copy at its pivot_root, so while
 * containers start in parallel such copies come and go.
 */
export async function overlayUsers(upper: string): Promise<number[]> {
  const own = await readlinkOr('/proc/self/ns/mnt');
  const seen = new Set<string>();
  const users: number[] = [];
  const want = `upperdir=${upper}`;
  for (const name of await readdir('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    const ns = await readlinkOr(`/proc/${name}/ns/mnt`);
    if (ns === undefined || ns === own || seen.has(ns)) continue;
    seen.add(ns);
    let info: string;
    try {
      info = await readFile(`/proc/${name}/mountinfo`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const hit = info.split('\n').some((l) => {
      const sep = l.indexOf(' - ');
      // mount points are relative to the process's root: its root filesystem is mounted on "/"
      if (sep < 0 || l.slice(0, sep).split(' ')[4] !== '/' || !l.slice(sep + 3).startsWith('overlay ')) return false;
      return unescapeMount(l.slice(sep + 3)).split(/[ ,]/).includes(want);
    });
    if (hit) users.push(Number(name));
  }
  return users;
}

async function readlinkOr(p: string): Promise<string | undefined> {
  try {
    return await readlink(p);
  } catch {
    return undefined;
  }
}


/**
 * Removes a bundle made by createBundle: unmounts DIR/rootfs (a busy mount — a container still
 * running on it — is an error and nothing is removed), drops DIR's references to its snapshots
 * (they become collectable by SnapshotStore.gc when nobody else uses them) and deletes DIR.
 */
export async function removeBundle(dirArg: string, opts: { knownUnused?: boolean } = {}): Promise<BundleRecord> {
  const dir = resolve(dirArg);
  const rec = await readBundleRecord(dir);
  const rootfs = join(dir, 'rootfs');
  // `knownUnused`: the caller has just deleted the only container made from it, every process of
  // its cgroup killed and the cgroup removed; the look through every process's mount table (a
  // readlink per process on the host) is for callers that cannot know
  const users = opts.knownUnused ? [] : await overlayUsers(join(dir, '.berth', 'upper'));
  if (users.length > 0) {
    throw new BundleError(`bundle ${dir}: busy: a container still uses its root filesystem (process ${users.join(', ')} has the overlay mounted): delete the container first (berth-oci delete ID); nothing was removed`);
  }
  if (isMountPoint(rootfs)) {
    try {
      await unmountOverlay(rootfs);
    } catch (e) {
      const msg = (e as Error).message;
      if (/EBUSY|busy/i.test(msg)) {
        throw new BundleError(`bundle ${dir}: cannot unmount ${rootfs}: it is busy, a container (or a process) still uses it: delete the container first (berth-oci delete ID)\n  ${msg}`);
      }
      throw new BundleError(`bundle ${dir}: cannot unmount ${rootfs}: ${msg}`);
    }
  }
  // the snapshots live in the berth root the bundle was made from (recorded)
  const snapshots = await SnapshotStore.open(join(rec.root, 'snapshot'));
  for (const id of rec.chainIds) await snapshots.unref(id, rec.owner);
  await rm(dir, { recursive: true, force: true }).catch((e: Error) => {
    throw new BundleError(`bundle ${dir}: remove: ${e.message}`);
  });
  return rec;
}
