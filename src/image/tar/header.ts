/**
 * One 512-byte tar header block: parse (ustar, GNU and old v7 layouts) and
 * format (ustar). Numbers are octal text, or GNU base-256 binary when the
 * first byte has its top bit set (sizes ≥ 8 GiB, large uids, negative mtimes).
 *
 * Layout (offsets into the block):
 *   0 name[100] 100 mode[8] 108 uid[8] 116 gid[8] 124 size[12] 136 mtime[12]
 *   148 chksum[8] 156 typeflag 157 linkname[100] 257 magic[6] 263 version[2]
 *   265 uname[32] 297 gname[32] 329 devmajor[8] 337 devminor[8]
 *   ustar: 345 prefix[155]
 *   GNU:   345 atime[12] 357 ctime[12] 369 offset[12] 381 longnames[4]
 *          386 sparse[4 × (offset[12] numbytes[12])] 482 isextended 483 realsize[12]
 */
import { TarError, where } from './errors.ts';

export const BLOCK = 512;

/** Type flags as they appear in the header. */
export const TypeFlag = {
  file: '0',
  oldFile: '\0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
  contiguous: '7',
  pax: 'x',
  paxGlobal: 'g',
  gnuLongName: 'L',
  gnuLongLink: 'K',
  gnuSparse: 'S',
  gnuDumpDir: 'D',
  gnuVolume: 'V',
  gnuMultiVolume: 'M',
} as const;

export type HeaderFormat = 'ustar' | 'gnu' | 'v7';

/** One data segment of a sparse file: `length` bytes at `offset` of the real file. */
export interface SparseSegment {
  offset: number;
  length: number;
}

/** The old GNU sparse map carried in a type 'S' header. */
export interface GnuSparseHeader {
  segments: SparseSegment[];
  /** Extension blocks with more segments follow this header. */
  isExtended: boolean;
  /** Logical size of the file. */
  realSize: number;
}

export interface TarHeader {
  /** prefix + '/' + name for ustar; the raw name otherwise. */
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** One character, e.g. '0', '5', 'x', 'L'. '\0' is an old-style regular file. */
  typeflag: string;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  format: HeaderFormat;
  /** Present on GNU type 'S' headers. */
  gnuSparse?: GnuSparseHeader;
}

function cstring(buf: Buffer, start: number, len: number): Buffer {
  const field = buf.subarray(start, start + len);
  const nul = field.indexOf(0);
  return nul < 0 ? field : field.subarray(0, nul);
}

function str(buf: Buffer, start: number, len: number): string {
  return cstring(buf, start, len).toString('utf8');
}

/** Parse a numeric field: octal text or GNU base-256. `what` names the field for errors. */
export function parseNumber(buf: Buffer, start: number, len: number, what: string): number {
  const first = buf[start] ?? 0;
  if (first & 0x80) {
    // base-256 big-endian two's complement; 0x80 marks positive, 0xff negative.
    const negative = first === 0xff;
    let v = BigInt(negative ? first : first & 0x7f);
    for (let i = 1; i < len; i++) v = (v << 8n) | BigInt(buf[start + i] ?? 0);
    if (negative) v -= 1n << BigInt(len * 8);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new TarError(`${what}: base-256 number out of range`);
    }
    return Number(v);
  }
  // Octal digits, optionally padded with spaces/NULs before and spaces/NULs after, ended by a NUL
  // (what follows a NUL is ignored). A byte loop: this runs ~8 times per entry of every layer.
  const end = start + len;
  let i = start;
  while (i < end && (buf[i] === 0x20 || buf[i] === 0)) i++;
  let v = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = buf[i]!;
    if (c < 0x30 || c > 0x37) break;
    v = v * 8 + (c - 0x30);
    digits++;
  }
  if (i < end && buf[i] !== 0) {
    // a space may only be trailing padding; anything else is not a number
    let j = i;
    while (j < end && buf[j] === 0x20) j++;
    if (buf[i] !== 0x20 || (j < end && buf[j] !== 0)) {
      const text = buf.subarray(start, end).toString('latin1').replace(/[\0 ]+$/, '').replace(/^[ \0]+/, '').split('\0')[0] ?? '';
      throw new TarError(`${what}: invalid octal number ${JSON.stringify(text)}`);
    }
  }
  if (digits === 0) return 0;
  if (!Number.isSafeInteger(v)) throw new TarError(`${what}: octal number out of range`);
  return v;
}

/** Write `value` into a `len`-byte field: octal + NUL when it fits, else base-256. */
export function formatNumber(buf: Buffer, start: number, len: number, value: number): void {
  if (!Number.isSafeInteger(value)) throw new TarError(`cannot encode ${value} in a tar header`);
  const octal = value >= 0 ? value.toString(8) : '';
  if (value >= 0 && octal.length <= len - 1) {
    buf.write(octal.padStart(len - 1, '0') + '\0', start, len, 'latin1');
    return;
  }
  let v = BigInt(value);
  const bits = BigInt((len - 1) * 8);
  if (v >= 1n << bits || v < -(1n << bits)) throw new TarError(`${value} does not fit a ${len}-byte tar field`);
  if (v < 0n) v += 1n << BigInt(len * 8);
  for (let i = len - 1; i >= 1; i--) {
    buf[start + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  buf[start] = value < 0 ? 0xff : 0x80;
}

/** True when a 512-byte block is all zeros (the end-of-archive marker). */
export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/** Unsigned sum of the block with the checksum field taken as spaces. */
export function checksum(block: Buffer): { unsigned: number; signed: number } {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return { unsigned, signed };
}

function formatOf(block: Buffer): HeaderFormat {
  const magic = block.toString('latin1', 257, 263);
  const version = block.toString('latin1', 263, 265);
  if (magic === 'ustar\0') return 'ustar';
  if (magic === 'ustar ' && version === ' \0') return 'gnu';
  return 'v7';
}

/** Parse the sparse entries at `start` (count of 24-byte {offset, numbytes} pairs). */
export function parseSparseEntries(block: Buffer, start: number, count: number, at: string): SparseSegment[] {
  const out: SparseSegment[] = [];
  for (let i = 0; i < count; i++) {
    const p = start + i * 24;
    if (block[p] === 0) break;
    out.push({
      offset: parseNumber(block, p, 12, `${at}: sparse offset`),
      length: parseNumber(block, p + 12, 12, `${at}: sparse numbytes`),
    });
  }
  return out;
}

/**
 * Parse one header block found at archive byte `offset`. Returns null for a
 * zero block. Throws a TarError naming the offset on a checksum mismatch or
 * a malformed field.
 */
export function parseHeader(block: Buffer, offset: number): TarHeader | null {
  if (block.length !== BLOCK) throw new TarError(`${where(offset)}: short header block (${block.length} bytes)`);
  if (isZeroBlock(block)) return null;
  const rawName = str(block, 0, 100);
  const at = where(offset, rawName);
  const stored = parseNumber(block, 148, 8, `${at}: checksum`);
  const sum = checksum(block);
  if (stored !== sum.unsigned && stored !== sum.signed) {
    throw new TarError(
      `${at}: header checksum mismatch (stored 0o${stored.toString(8)}, computed 0o${sum.unsigned.toString(8)}); not a tar archive or corrupted`,
    );
  }
  const format = formatOf(block);
  let name = rawName;
  if (format === 'ustar') {
    const prefix = str(block, 345, 155);
    if (prefix !== '') name = `${prefix}/${rawName}`;
  }
  const typeflag = String.fromCharCode(block[156] ?? 0);
  const h: TarHeader = {
    name,
    mode: parseNumber(block, 100, 8, `${at}: mode`) & 0o7777,
    uid: parseNumber(block, 108, 8, `${at}: uid`),
    gid: parseNumber(block, 116, 8, `${at}: gid`),
    size: parseNumber(block, 124, 12, `${at}: size`),
    mtime: parseNumber(block, 136, 12, `${at}: mtime`),
    typeflag,
    linkname: str(block, 157, 100),
    uname: format === 'v7' ? '' : str(block, 265, 32),
    gname: format === 'v7' ? '' : str(block, 297, 32),
    devmajor: format === 'v7' ? 0 : parseNumber(block, 329, 8, `${at}: devmajor`),
    devminor: format === 'v7' ? 0 : parseNumber(block, 337, 8, `${at}: devminor`),
    format,
  };
  if (h.size < 0) throw new TarError(`${at}: negative size`);
  if (typeflag === TypeFlag.gnuSparse) {
    h.gnuSparse = {
      segments: parseSparseEntries(block, 386, 4, at),
      isExtended: block[482] !== 0,
      realSize: parseNumber(block, 483, 12, `${at}: sparse realsize`),
    };
  }
  return h;
}

/** Parse an old-GNU sparse extension block: 21 more segments and an isextended flag. */
export function parseSparseExtension(block: Buffer, offset: number): { segments: SparseSegment[]; isExtended: boolean } {
  const at = `sparse extension block at offset ${offset}`;
  return { segments: parseSparseEntries(block, 0, 21, at), isExtended: block[504] !== 0 };
}

/** Header fields the formatter takes (a parsed header's, the optional ones defaulting to empty); strings must already fit their fields. */
export type HeaderFields = Pick<TarHeader, 'name' | 'mode' | 'uid' | 'gid' | 'size' | 'mtime' | 'typeflag'>
  & Partial<Pick<TarHeader, 'linkname' | 'uname' | 'gname' | 'devmajor' | 'devminor'>>
  & {
    /** ustar prefix (≤ 155 bytes); name then holds the last ≤ 100 bytes. */
    prefix?: string;
  };

function putString(buf: Buffer, start: number, len: number, value: string, what: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > len) throw new TarError(`${what} ${JSON.stringify(value)} is longer than ${len} bytes`);
  bytes.copy(buf, start);
}

/** Format a ustar header block (magic "ustar\0", version "00") with its checksum. */
export function formatHeader(f: HeaderFields): Buffer {
  const b = Buffer.alloc(BLOCK);
  putString(b, 0, 100, f.name, 'name');
  formatNumber(b, 100, 8, f.mode & 0o7777);
  formatNumber(b, 108, 8, f.uid);
  formatNumber(b, 116, 8, f.gid);
  formatNumber(b, 124, 12, f.size);
  formatNumber(b, 136, 12, Math.floor(f.mtime));
  if (f.typeflag.length !== 1) throw new TarError(`typeflag must be one character, got ${JSON.stringify(f.typeflag)}`);
  b.write(f.typeflag, 156, 1, 'latin1');
  putString(b, 157, 100, f.linkname ?? '', 'linkname');
  b.write('ustar\x0000', 257, 8, 'latin1');
  putString(b, 265, 32, f.uname ?? '', 'uname');
  putString(b, 297, 32, f.gname ?? '', 'gname');
  formatNumber(b, 329, 8, f.devmajor ?? 0);
  formatNumber(b, 337, 8, f.devminor ?? 0);
  putString(b, 345, 155, f.prefix ?? '', 'prefix');
  const sum = checksum(b).unsigned;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return b;
}
