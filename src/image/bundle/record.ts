/**
 * DIR/.berth/bundle.json: what createBundle did (image, digests, chain IDs referenced, owner),
 * read back by removal, garbage collection and the engine.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Digest } from '../store/digest.ts';
import { errnoCode } from '../store/errors.ts';

export class BundleError extends Error {}

export interface BundleRecord {
  schemaVersion: 1;
  /** the normalised image name */
  image: string;
  manifestDigest: Digest;
  configDigest: Digest;
  /** chain IDs of the layers, bottom first, referenced for `owner` */
  chainIds: Digest[];
  /** the owner name the snapshots are referenced under (the bundle's absolute path) */
  owner: string;
  /** the berth root the snapshots live in */
  root: string;
  mounted: boolean;
  createdAt: string;
}

const recordPath = (dir: string): string => join(dir, '.berth', 'bundle.json');

/** tmp + rename: a process killed mid-write leaves the old record or the new one, never half of one */
export async function writeRecord(dir: string, rec: BundleRecord): Promise<void> {
  const tmp = `${recordPath(dir)}.tmp`;
  await writeFile(tmp, JSON.stringify(rec, null, 2) + '\n');
  await rename(tmp, recordPath(dir));
}

/** Reads DIR/.berth/bundle.json. */
export async function readBundleRecord(dirArg: string): Promise<BundleRecord> {
  const dir = resolve(dirArg);
  let text: string;
  try {
    text = await readFile(recordPath(dir), 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') throw new BundleError(`bundle ${dir}: not a berth bundle (${recordPath(dir)} does not exist)`);
    throw new BundleError(`bundle ${dir}: ${recordPath(dir)}: ${(e as Error).message}`);
  }
  let rec: BundleRecord;
  try {
    rec = JSON.parse(text) as BundleRecord;
  } catch (e) {
    throw new BundleError(`bundle ${dir}: ${recordPath(dir)}: not JSON: ${(e as Error).message}`);
  }
  if (rec?.schemaVersion !== 1 || !Array.isArray(rec.chainIds) || typeof rec.owner !== 'string') {
    throw new BundleError(`bundle ${dir}: ${recordPath(dir)}: not a bundle record (want schemaVersion 1, chainIds, owner)`);
  }
  return rec;
}
