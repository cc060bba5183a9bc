/**
 * Tar writer producing ustar headers extended with PAX records where ustar
 * cannot say it: names/link targets over 100 bytes, sizes ≥ 8 GiB, large
 * uids/gids, fractional mtimes, long user/group names and xattrs
 * (SCHILY.xattr.NAME, values written as raw bytes).
 *
 * Output goes to a Writable (with backpressure) or is read as an async
 * iterable of Buffers:
 *
 *   const w = new TarWriter();
 *   const done = pipeline(Readable.from(w), out);   // or: new TarWriter(out)
 *   await w.add({ path: 'etc/hostname', type: 'file', size: 5 }, Buffer.from('berth'));
 *   await w.finish();
 */
import type { Writable } from 'node:stream';

import { TarError } from './errors.ts';
import { BLOCK, TypeFlag, formatHeader } from './header.ts';
import { XATTR_PREFIX, formatPaxRecords } from './pax.ts';
import type { EntryType } from './reader.ts';

export interface TarWriteEntry {
  path: string;
  type: EntryType;
  /** Permission bits incl. setuid/setgid/sticky; default 0o644 (0o755 for dirs). */
  mode?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  /** Bytes of content, files only; must match the body. Default: the body's length when it is a Buffer, else 0. */
  size?: number;
  /** Seconds since the epoch (fractional kept via PAX); default 0. */
  mtime?: number;
  /** Symlink target or hardlink source. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: ReadonlyMap<string, Buffer | string> | Readonly<Record<string, Buffer | string>>;
}

export type TarBody = Buffer | Uint8Array | Iterable<Buffer | Uint8Array> | AsyncIterable<Buffer | Uint8Array>;

const FLAG: Record<EntryType, string> = {
  file: TypeFlag.file,
  hardlink: TypeFlag.hardlink,
  symlink: TypeFlag.symlink,
  char: TypeFlag.char,
  block: TypeFlag.block,
  dir: TypeFlag.dir,
  fifo: TypeFlag.fifo,
};

const MAX_OCTAL_8 = 0o7777777;
const MAX_OCTAL_12 = 0o77777777777;
const ZERO = Buffer.alloc(BLOCK * 2);

const isAscii = (s: string): boolean => /^[\x01-\x7f]*$/.test(s);
const fits = (s: string, len: number): boolean => isAscii(s) && s.length <= len;

/** A ustar-safe stand-in for a field PAX overrides: ASCII, truncated to `len` bytes. */
function standIn(s: string, len: number): string {
  return s.replace(/[^\x01-\x7f]/g, '_').slice(0, len);
}

/** Build the header block(s) for one entry: an optional PAX 'x' header + data, then the ustar header. */
export function entryHeaders(e: TarWriteEntry, size: number): Buffer {
  const pax: { key: string; value: Buffer | string }[] = [];
  let path = e.path;
  if (path === '') throw new TarError('tar entry with an empty path');
  if (path.includes('\0')) throw new TarError(`tar entry ${JSON.stringify(path)}: NUL in path`);
  if (e.type === 'dir' && !path.endsWith('/')) path += '/';
  const linkname = e.linkname ?? '';
  if ((e.type === 'symlink' || e.type === 'hardlink') && linkname === '') {
    throw new TarError(`tar entry ${JSON.stringify(e.path)}: ${e.type} without a linkname`);
  }
  const uid = e.uid ?? 0;
  const gid = e.gid ?? 0;
  const mtime = e.mtime ?? 0;
  const uname = e.uname ?? '';
  const gname = e.gname ?? '';
  for (const [what, v] of [['uid', uid], ['gid', gid], ['size', size], ['devmajor', e.devmajor ?? 0], ['devminor', e.devminor ?? 0]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new TarError(`tar entry ${JSON.stringify(e.path)}: invalid ${what} ${v}`);
  }

  if (!fits(path, 100)) pax.push({ key: 'path', value: path });
  if (!fits(linkname, 100)) pax.push({ key: 'linkpath', value: linkname });
  if (size > MAX_OCTAL_12) pax.push({ key: 'size', value: String(size) });
  if (uid > MAX_OCTAL_8) pax.push({ key: 'uid', value: String(uid) });
  if (gid > MAX_OCTAL_8) pax.push({ key: 'gid', value: String(gid) });
  if (!fits(uname, 32)) pax.push({ key: 'uname', value: uname });
  if (!fits(gname, 32)) pax.push({ key: 'gname', value: gname });
  if (!Number.isInteger(mtime) || mtime < 0 || mtime > MAX_OCTAL_12) pax.push({ key: 'mtime', value: formatTime(mtime) });
  const xattrs = e.xattrs instanceof Map ? [...e.xattrs] : Object.entries(e.xattrs ?? {});
  for (const [name, value] of xattrs) {
    if (name === '' || name.includes('=') || name.includes('\n')) throw new TarError(`tar entry ${JSON.stringify(e.path)}: invalid xattr name ${JSON.stringify(name)}`);
    pax.push({ key: XATTR_PREFIX + name, value: typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value) });
  }

  const header = formatHeader({
    name: fits(path, 100) ? path : standIn(path, 100),
    mode: e.mode ?? (e.type === 'dir' ? 0o755 : 0o644),
    uid,
    gid,
    size,
    mtime: Math.floor(mtime),
    typeflag: FLAG[e.type],
    linkname: fits(linkname, 100) ? linkname : standIn(linkname, 100),
    uname: fits(uname, 32) ? uname : standIn(uname, 32),
    gname: fits(gname, 32) ? gname : standIn(gname, 32),
    devmajor: e.devmajor ?? 0,
    devminor: e.devminor ?? 0,
  });
  if (pax.length === 0) return header;
  const records = formatPaxRecords(pax);
  const paxHeader = formatHeader({
    name: standIn(`PaxHeaders.0/${path.split('/').filter(Boolean).pop() ?? 'x'}`, 100),
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: records.length,
    mtime: 0,
    typeflag: TypeFlag.pax,
  });
  return Buffer.concat([paxHeader, records, Buffer.alloc((BLOCK - (records.length % BLOCK)) % BLOCK), header]);
}

function formatTime(t: number): string {
  if (!Number.isFinite(t)) throw new TarError(`invalid mtime ${t}`);
  if (Number.isInteger(t)) return String(t);
  const neg = t < 0;
  const abs = Math.abs(t);
  const sec = Math.floor(abs);
  const frac = Math.round((abs - sec) * 1e9);
  const fracText = frac >= 1e9 ? '' : String(frac).padStart(9, '0').replace(/0+$/, '');
  const whole = frac >= 1e9 ? sec + 1 : sec;
  return `${neg ? '-' : ''}${whole}${fracText ? `.${fracText}` : ''}`;
}

/** Async-iterable byte queue with a high-water mark, the writer's default output. */
class Channel implements AsyncIterable<Buffer> {
  private queue: Buffer[] = [];
  private queued = 0;
  private closed = false;
  private cancelled = false;
  private wakeReader: (() => void) | undefined;
  private wakeWriter: (() => void) | undefined;

  constructor(private readonly highWaterMark: number) {}

  async push(b: Buffer): Promise<void> {
    if (this.cancelled) throw new TarError('tar output was closed by its reader');
    this.queue.push(b);
    this.queued += b.length;
    this.wakeReader?.();
    while (this.queued >= this.highWaterMark && !this.cancelled) {
      await new Promise<void>((resolve) => (this.wakeWriter = resolve));
    }
    if (this.cancelled) throw new TarError('tar output was closed by its reader');
  }

  close(): void {
    this.closed = true;
    this.wakeReader?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        const b = this.queue.shift();
        if (b !== undefined) {
          this.queued -= b.length;
          if (this.queued < this.highWaterMark) this.wakeWriter?.();
          yield b;
          continue;
        }
        if (this.closed) return;
        await new Promise<void>((resolve) => (this.wakeReader = resolve));
        this.wakeReader = undefined;
      }
    } finally {
      if (!this.closed || this.queue.length > 0) {
        this.cancelled = true;
        this.wakeWriter?.();
      }
    }
  }
}

export interface TarWriterOptions {
  /** Bytes buffered for an async-iterable reader before add() waits (default 1 MiB). */
  highWaterMark?: number;
}

export class TarWriter implements AsyncIterable<Buffer> {
  private readonly channel: Channel | undefined;
  private busy = false;
  private finished = false;
  /** Set when an add() failed part-way: the output is no longer a valid archive. */
  private broken: Error | undefined;

  /** With `sink`, output is written there (honouring 'drain'); without, read it by iterating the writer. */
  constructor(private readonly sink?: Writable, opts: TarWriterOptions = {}) {
    if (!sink) this.channel = new Channel(opts.highWaterMark ?? 1 << 20);
  }

  private async out(b: Buffer): Promise<void> {
    if (b.length === 0) return;
    if (this.channel) return this.channel.push(b);
    const sink = this.sink as Writable;
    if (sink.destroyed) throw new TarError('tar output stream was destroyed');
    if (!sink.write(b)) {
      await new Promise<void>((resolve, reject) => {
        const done = (err?: Error): void => {
          sink.off('drain', onDrain);
          sink.off('error', done);
          sink.off('close', onClose);
          if (err) reject(err);
          else resolve();
        };
        const onDrain = (): void => done();
        const onClose = (): void => done(new TarError('tar output stream closed'));
        sink.on('drain', onDrain);
        sink.on('error', done);
        sink.on('close', onClose);
      });
    }
  }

  /** Append one entry. Files take their content from `body`; other types must have none. Calls must not overlap. */
  async add(entry: TarWriteEntry, body?: TarBody): Promise<void> {
    if (this.finished) throw new TarError(`tar entry ${JSON.stringify(entry.path)}: add() after finish()`);
    if (this.busy) throw new TarError(`tar entry ${JSON.stringify(entry.path)}: add() while another add() is running`);
    if (this.broken) throw new TarError(`tar entry ${JSON.stringify(entry.path)}: the archive is broken by an earlier error: ${this.broken.message}`);
    this.busy = true;
    let started = false;
    try {
      const isBuf = body instanceof Uint8Array;
      const size = entry.type === 'file' ? (entry.size ?? (isBuf ? body.length : 0)) : 0;
      if (entry.type !== 'file' && body !== undefined && !(isBuf && body.length === 0)) {
        throw new TarError(`tar entry ${JSON.stringify(entry.path)}: a ${entry.type} has no content`);
      }
      const headers = entryHeaders(entry, size);
      started = true;
      await this.out(headers);
      let written = 0;
      if (body !== undefined && entry.type === 'file') {
        const chunks: AsyncIterable<Buffer | Uint8Array> | Iterable<Buffer | Uint8Array> = isBuf ? [body] : body;
        for await (const c of chunks) {
          if (written + c.length > size) throw new TarError(`tar entry ${JSON.stringify(entry.path)}: body is longer than its size ${size}`);
          written += c.length;
          await this.out(Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.length));
        }
      }
      if (written !== size) throw new TarError(`tar entry ${JSON.stringify(entry.path)}: body has ${written} bytes, size says ${size}`);
      await this.out(ZERO.subarray(0, (BLOCK - (size % BLOCK)) % BLOCK));
    } catch (e) {
      // An entry rejected before anything was written leaves the archive valid.
      if (started) this.broken = e instanceof Error ? e : new Error(String(e));
      throw e;
    } finally {
      this.busy = false;
    }
  }

  /** Write the two zero blocks that end the archive; ends the iterable output (not the sink). */
  async finish(): Promise<void> {
    if (this.finished) return;
    if (this.busy) throw new TarError('finish() while add() is running');
    if (this.broken) throw new TarError(`finish(): the archive is broken by an earlier error: ${this.broken.message}`);
    this.finished = true;
    await this.out(ZERO);
    this.channel?.close();
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    if (!this.channel) throw new TarError('this TarWriter writes into a stream; it cannot be iterated');
    return this.channel[Symbol.asyncIterator]();
  }
}
