/**
 * Network records on disk: `<dataRoot>/network/networks/<id>.json`, each written to a temporary
 * file and renamed into place, so a crash leaves the old record or the new one, never half of
 * one; a leftover temporary file is deleted at load.
 */
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { IpamConfig, NetworkRecord } from './types.ts';

const ID = /^[0-9a-f]{64}$/;
const DRIVERS = new Set(['bridge', 'host', 'null']);

function isStringMap(v: unknown): v is Record<string, string> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
}

function isIpamConfig(v: unknown): v is IpamConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const c = v as Record<string, unknown>;
  return ['Subnet', 'IPRange', 'Gateway'].every((k) => c[k] === undefined || typeof c[k] === 'string')
    && (c.AuxiliaryAddresses === undefined || isStringMap(c.AuxiliaryAddresses));
}

/** A record read back; a file without the shape is an error naming the file and the field. */
export function parseRecord(text: string, file: string): NetworkRecord {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not JSON: ${(e as Error).message}`);
  }
  const bad = (field: string, want: string): never => { throw new Error(`${file}: ${field}: want ${want}`); };
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) bad('(root)', 'an object');
  const r = doc as Record<string, unknown>;
  if (r.schemaVersion !== 1) bad('schemaVersion', '1');
  if (typeof r.id !== 'string' || !ID.test(r.id)) bad('id', '64 hex digits');
  if (typeof r.name !== 'string') bad('name', 'a string');
  if (typeof r.driver !== 'string' || !DRIVERS.has(r.driver)) bad('driver', 'bridge, host or null');
  if (typeof r.created !== 'string' || Number.isNaN(Date.parse(r.created))) bad('created', 'an RFC 3339 time');
  for (const k of ['builtin', 'internal', 'attachable', 'enableIPv6'] as const) if (typeof r[k] !== 'boolean') bad(k, 'a boolean');
  if (typeof r.bridge !== 'string') bad('bridge', 'a string');
  if (r.ipamOptions !== null && !isStringMap(r.ipamOptions)) bad('ipamOptions', 'null or an object of strings');
  if (!Array.isArray(r.ipam)) bad('ipam', 'an array');
  (r.ipam as unknown[]).forEach((c, i) => { if (!isIpamConfig(c)) bad(`ipam[${i}]`, '{Subnet, IPRange, Gateway, AuxiliaryAddresses} of strings'); });
  if (!isStringMap(r.options)) bad('options', 'an object of strings');
  if (!isStringMap(r.labels)) bad('labels', 'an object of strings');
  return r as unknown as NetworkRecord;
}

export class RecordStore {
  constructor(readonly dir: string) {}

  static async open(dataRoot: string): Promise<RecordStore> {
    const dir = join(dataRoot, 'network', 'networks');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return new RecordStore(dir);
  }

  /** Every record; `onBad` hears of a file that is not one (it is left where it is). */
  async load(onBad: (file: string, why: string) => void): Promise<NetworkRecord[]> {
    const out: NetworkRecord[] = [];
    for (const entry of await readdir(this.dir)) {
      const file = join(this.dir, entry);
      if (entry.includes('.tmp-')) {
        await rm(file, { force: true });
        continue;
      }
      if (!entry.endsWith('.json')) continue;
      try {
        const rec = parseRecord(await readFile(file, 'utf8'), file);
        if (`${rec.id}.json` !== entry) throw new Error(`${file}: names network ${rec.id}`);
        out.push(rec);
      } catch (e) {
        onBad(file, (e as Error).message);
      }
    }
    return out;
  }

  async write(rec: NetworkRecord): Promise<void> {
    const file = join(this.dir, `${rec.id}.json`);
    const tmp = `${file}.tmp-${process.pid}`;
    await writeFile(tmp, `${JSON.stringify(rec)}\n`, { mode: 0o600 });
    await rename(tmp, file);
  }

  async remove(id: string): Promise<void> {
    await rm(join(this.dir, `${id}.json`), { force: true });
  }
}
