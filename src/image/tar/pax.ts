/**
 * PAX extended headers: records `LEN key=value\n`, parsed from bytes.
 *
 * Values stay Buffers until a key is known to be text: `SCHILY.xattr.NAME`
 * values are raw bytes (security.capability holds 0x00 and 0xff) and are
 * never decoded. Keys are UTF-8.
 */
import { TarError } from './errors.ts';
import type { SparseSegment } from './header.ts';

export interface PaxRecord {
  key: string;
  value: Buffer;
}

export const XATTR_PREFIX = 'SCHILY.xattr.';

/** Parse the body of an 'x' or 'g' header. `at` names the header for errors. */
export function parsePaxRecords(buf: Buffer, at: string): PaxRecord[] {
  const out: PaxRecord[] = [];
  let pos = 0;
  while (pos < buf.length) {
    // Trailing NUL padding (some writers pad the data) ends the records.
    if (buf[pos] === 0) break;
    const space = buf.indexOf(0x20, pos);
    if (space < 0 || space - pos > 20) throw new TarError(`${at}: malformed PAX record at byte ${pos} (no length)`);
    const lenText = buf.toString('latin1', pos, space);
    if (!/^[0-9]+$/.test(lenText)) throw new TarError(`${at}: malformed PAX record length ${JSON.stringify(lenText)}`);
    const len = Number(lenText);
    const end = pos + len;
    if (len <= space - pos + 1 || end > buf.length) {
      throw new TarError(`${at}: PAX record at byte ${pos} has a bad length ${len}`);
    }
    if (buf[end - 1] !== 0x0a) throw new TarError(`${at}: PAX record at byte ${pos} does not end with a newline`);
    const eq = buf.indexOf(0x3d, space + 1);
    if (eq < 0 || eq >= end - 1) throw new TarError(`${at}: PAX record at byte ${pos} has no '='`);
    const key = buf.toString('utf8', space + 1, eq);
    if (key === '') throw new TarError(`${at}: PAX record at byte ${pos} has an empty key`);
    out.push({ key, value: Buffer.from(buf.subarray(eq + 1, end - 1)) });
    pos = end;
  }
  return out;
}

/** Format records (order kept). A string value is written as UTF-8. */
export function formatPaxRecords(records: ReadonlyArray<{ key: string; value: Buffer | string }>): Buffer {
  const parts: Buffer[] = [];
  for (const r of records) {
    if (r.key.includes('=') || r.key.includes('\n') || r.key === '') {
      throw new TarError(`invalid PAX key ${JSON.stringify(r.key)}`);
    }
    const kv = Buffer.concat([Buffer.from(` ${r.key}=`, 'utf8'), Buffer.from(r.value), Buffer.from('\n')]);
    // LEN counts its own digits: grow until stable.
    let len = kv.length + 1;
    while (String(len).length + kv.length !== len) len = String(len).length + kv.length;
    parts.push(Buffer.from(String(len), 'latin1'), kv);
  }
  return Buffer.concat(parts);
}

/** GNU sparse information carried in PAX records. */
export interface PaxSparse {
  /** '0.0', '0.1' or '1.0'. */
  version: string;
  /** Logical size of the file (GNU.sparse.size / GNU.sparse.realsize). */
  realSize: number;
  /** Real name (GNU.sparse.name), replacing the placeholder path. */
  name?: string;
  /** The map for 0.0 and 0.1; for 1.0 it is at the start of the data and read by the reader. */
  segments?: SparseSegment[];
}

/** The attributes of an entry that PAX records override. */
export interface PaxAttributes {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  /** Seconds, possibly fractional. */
  mtime?: number;
  /** SCHILY.xattr.NAME → raw value bytes. */
  xattrs: Map<string, Buffer>;
  sparse?: PaxSparse;
}

function int(value: Buffer, key: string, at: string): number {
  const s = value.toString('latin1');
  if (!/^[0-9]+$/.test(s)) throw new TarError(`${at}: PAX ${key}=${JSON.stringify(s)} is not a non-negative integer`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new TarError(`${at}: PAX ${key}=${s} is out of range`);
  return n;
}

function time(value: Buffer, key: string, at: string): number {
  const s = value.toString('latin1');
  if (!/^-?[0-9]+(\.[0-9]*)?$/.test(s)) throw new TarError(`${at}: PAX ${key}=${JSON.stringify(s)} is not a time`);
  return Number(s);
}

/**
 * Interpret records in order (later ones win; an empty value removes the
 * key, as POSIX says). Pass the global records first, then the entry's own.
 */
export function paxAttributes(records: readonly PaxRecord[], at: string): PaxAttributes {
  const a: PaxAttributes = { xattrs: new Map() };
  const sparseRaw = new Map<string, Buffer>();
  const offsets: number[] = [];
  const lengths: number[] = [];
  for (const { key, value } of records) {
    const empty = value.length === 0;
    if (key.startsWith(XATTR_PREFIX)) {
      const name = key.slice(XATTR_PREFIX.length);
      if (empty) a.xattrs.delete(name);
      else a.xattrs.set(name, value);
      continue;
    }
    if (key.startsWith('GNU.sparse.')) {
      // 0.0 repeats offset/numbytes pairs; keep them in order.
      if (key === 'GNU.sparse.offset') offsets.push(int(value, key, at));
      else if (key === 'GNU.sparse.numbytes') lengths.push(int(value, key, at));
      else sparseRaw.set(key, value);
      continue;
    }
    switch (key) {
      case 'path': a.path = empty ? undefined : value.toString('utf8'); break;
      case 'linkpath': a.linkpath = empty ? undefined : value.toString('utf8'); break;
      case 'size': a.size = empty ? undefined : int(value, key, at); break;
      case 'uid': a.uid = empty ? undefined : int(value, key, at); break;
      case 'gid': a.gid = empty ? undefined : int(value, key, at); break;
      case 'uname': a.uname = empty ? undefined : value.toString('utf8'); break;
      case 'gname': a.gname = empty ? undefined : value.toString('utf8'); break;
      case 'mtime': a.mtime = empty ? undefined : time(value, key, at); break;
      default: break; // atime, ctime, comment, charset, hdrcharset, LIBARCHIVE.*: not needed
    }
  }
  const sparse = sparseFrom(sparseRaw, offsets, lengths, at);
  if (sparse) a.sparse = sparse;
  return a;
}

function sparseFrom(raw: Map<string, Buffer>, offsets: number[], lengths: number[], at: string): PaxSparse | undefined {
  const get = (k: string): Buffer | undefined => raw.get(`GNU.sparse.${k}`);
  const major = get('major');
  const minor = get('minor');
  const name = get('name')?.toString('utf8');
  const withName = (s: PaxSparse): PaxSparse => (name !== undefined ? { ...s, name } : s);
  if (major !== undefined || minor !== undefined) {
    const version = `${major?.toString('latin1') ?? '0'}.${minor?.toString('latin1') ?? '0'}`;
    if (version !== '1.0') throw new TarError(`${at}: unsupported GNU sparse format ${version}`);
    const size = get('realsize');
    if (size === undefined) throw new TarError(`${at}: GNU sparse 1.0 without GNU.sparse.realsize`);
    return withName({ version, realSize: int(size, 'GNU.sparse.realsize', at) });
  }
  const map = get('map');
  const size = get('size');
  if (map !== undefined) {
    const nums = map.length === 0 ? [] : map.toString('latin1').split(',').map((s) => int(Buffer.from(s), 'GNU.sparse.map', at));
    if (nums.length % 2 !== 0) throw new TarError(`${at}: GNU.sparse.map has an odd number of values`);
    const segments: SparseSegment[] = [];
    for (let i = 0; i < nums.length; i += 2) segments.push({ offset: nums[i] ?? 0, length: nums[i + 1] ?? 0 });
    checkCount(get('numblocks'), segments.length, at);
    if (size === undefined) throw new TarError(`${at}: GNU sparse 0.1 without GNU.sparse.size`);
    return withName({ version: '0.1', realSize: int(size, 'GNU.sparse.size', at), segments });
  }
  if (offsets.length > 0 || lengths.length > 0 || size !== undefined) {
    if (offsets.length !== lengths.length) throw new TarError(`${at}: GNU sparse 0.0 offsets and numbytes do not pair up`);
    const segments = offsets.map((offset, i) => ({ offset, length: lengths[i] ?? 0 }));
    checkCount(get('numblocks'), segments.length, at);
    if (size === undefined) throw new TarError(`${at}: GNU sparse 0.0 without GNU.sparse.size`);
    return withName({ version: '0.0', realSize: int(size, 'GNU.sparse.size', at), segments });
  }
  return undefined;
}

function checkCount(numblocks: Buffer | undefined, count: number, at: string): void {
  if (numblocks !== undefined && int(numblocks, 'GNU.sparse.numblocks', at) !== count) {
    throw new TarError(`${at}: GNU.sparse.numblocks says ${numblocks.toString('latin1')} but the map has ${count} segments`);
  }
}
