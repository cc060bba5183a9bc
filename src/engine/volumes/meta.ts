/**
 * A volume's record, `<data>/volumes/<name>/meta.json` (written tmp+rename, so a crash leaves
 * the old record or the new one). It holds what docker keeps in its metadata.db and opts.json
 * (driver, labels, options) plus the containers that use the volume: reference counts survive a
 * daemon restart without a database, and `reconcile` drops the references of containers that
 * vanished while berthd was down (a create killed half-way).
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One container's use of a volume at one destination. */
export interface VolumeUser {
  containerId: string;
  /** where the container sees the volume */
  destination: string;
  /**
   * the container's mount gave no volume name (`-v /data`, an image VOLUME): `rm -v` removes the
   * volume with the container, as docker 20.10 does for a mount whose Spec.Source is ""
   */
  anonymous: boolean;
  /** mounted read-write (false: `:ro`) */
  rw: boolean;
}

export interface VolumeMeta {
  schemaVersion: 1;
  name: string;
  driver: 'local';
  /** as given: null when the request had none (docker answers `"Labels": null` then) */
  labels: Record<string, string> | null;
  /** the local driver's options (type, device, o) as given, null when none */
  options: Record<string, string> | null;
  /** RFC 3339 with nanoseconds, UTC */
  createdAt: string;
  /** made for a container's unnamed mount (docker 20.10 has no label for this; berth records it) */
  anonymous: boolean;
  users: VolumeUser[];
}

export const META_FILE = 'meta.json';

function isStringMap(v: unknown): v is Record<string, string> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
}

/** Parses a meta.json; a record that does not have the shape is an error naming the file and field. */
export function parseMeta(text: string, file: string): VolumeMeta {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not JSON: ${(e as Error).message}`);
  }
  const m = doc as Partial<VolumeMeta>;
  const bad = (field: string, want: string): never => { throw new Error(`${file}: ${field}: want ${want}`); };
  if (typeof m !== 'object' || m === null) bad('(root)', 'an object');
  if (m.schemaVersion !== 1) bad('schemaVersion', '1');
  if (typeof m.name !== 'string') bad('name', 'a string');
  if (m.driver !== 'local') bad('driver', '"local"');
  if (m.labels !== null && !isStringMap(m.labels)) bad('labels', 'null or an object of strings');
  if (m.options !== null && !isStringMap(m.options)) bad('options', 'null or an object of strings');
  if (typeof m.createdAt !== 'string') bad('createdAt', 'a string');
  if (typeof m.anonymous !== 'boolean') bad('anonymous', 'a boolean');
  if (!Array.isArray(m.users)) bad('users', 'an array');
  m.users!.forEach((u, i) => {
    if (typeof u?.containerId !== 'string' || typeof u.destination !== 'string' || typeof u.anonymous !== 'boolean' || typeof u.rw !== 'boolean') {
      bad(`users[${i}]`, '{containerId, destination, anonymous, rw}');
    }
  });
  return m as VolumeMeta;
}

export async function readMeta(dir: string): Promise<VolumeMeta> {
  const file = join(dir, META_FILE);
  return parseMeta(await readFile(file, 'utf8'), file);
}

export async function writeMeta(dir: string, meta: VolumeMeta): Promise<void> {
  const file = join(dir, META_FILE);
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(meta)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}
