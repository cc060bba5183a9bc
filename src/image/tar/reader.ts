/**
 * Streaming tar reader: ustar, GNU (long names/links, old sparse) and PAX
 * (per-entry and global headers, binary-safe xattrs, GNU sparse 0.0/0.1/1.0).
 *
 *   for await (const e of readTar(layerStream)) {
 *     if (e.type === 'file') for await (const chunk of e.body()) …
 *   }
 *
 * An entry's body must be read before asking for the next entry; a body that
 * was not read (or only partly) is skipped automatically. Nothing is written
 * to disk here: paths are returned as they are in the archive, and callers
 * that extract must pass them through cleanEntryPath (safepath.ts).
 */
import { ByteReader } from './bytes.ts';
import { TarError, where } from './errors.ts';
import { BLOCK, TypeFlag, isZeroBlock, parseHeader, parseSparseExtension } from './header.ts';
import type { SparseSegment, TarHeader } from './header.ts';
import { paxAttributes, parsePaxRecords } from './pax.ts';
import type { PaxRecord } from './pax.ts';

export type EntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarEntry {
  /** As in the archive (PAX path / GNU long name applied); may end with '/' for dirs. */
  path: string;
  type: EntryType;
  /** Permission bits incl. setuid/setgid/sticky (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /**
   * Size of the file's content: for a sparse file its logical size (the
   * body yields only the bytes of `sparse` segments, in order); 0 for
   * everything but files.
   */
  size: number;
  /** Seconds since the epoch, fractional when a PAX mtime says so. */
  mtime: number;
  /** Symlink target (kept exactly, absolute or not) or hardlink source path. */
  linkname: string;
  devmajor: number;
  devminor: number;
  /** SCHILY.xattr.* values as raw bytes. */
  xattrs: Map<string, Buffer>;
  /** Data segments of a sparse file; absent for ordinary files. */
  sparse?: SparseSegment[];
  /** Archive byte offset of this entry's first header (incl. PAX/GNU meta headers). */
  offset: number;
  /** The content; readable once, before the next entry is requested. */
  body(): AsyncIterable<Buffer>;
}

export interface ReadTarOptions {
  /** Largest PAX or GNU long-name header body accepted (default 1 MiB). */
  maxMetaSize?: number;
}

const padding = (n: number): number => (BLOCK - (n % BLOCK)) % BLOCK;

function entryType(h: TarHeader, path: string, at: string): EntryType {
  switch (h.typeflag) {
    case TypeFlag.file:
    case TypeFlag.oldFile:
      return path.endsWith('/') ? 'dir' : 'file';
    case TypeFlag.contiguous:
    case TypeFlag.gnuSparse:
      return 'file';
    case TypeFlag.hardlink: return 'hardlink';
    case TypeFlag.symlink: return 'symlink';
    case TypeFlag.char: return 'char';
    case TypeFlag.block: return 'block';
    case TypeFlag.dir:
    case TypeFlag.gnuDumpDir:
      return 'dir';
    case TypeFlag.fifo: return 'fifo';
    default:
      throw new TarError(`${at}: unsupported entry type ${JSON.stringify(h.typeflag)}`);
  }
}

function checkSparse(segments: SparseSegment[], realSize: number, stored: number, at: string): void {
  let end = 0;
  let total = 0;
  for (const s of segments) {
    if (s.offset < end) throw new TarError(`${at}: sparse map is not ascending (segment at ${s.offset})`);
    end = s.offset + s.length;
    if (end > realSize) throw new TarError(`${at}: sparse segment ${s.offset}+${s.length} is past the file size ${realSize}`);
    total += s.length;
  }
  if (total !== stored) throw new TarError(`${at}: sparse map covers ${total} bytes but the archive holds ${stored}`);
}

/** Read the GNU sparse 1.0 map at the start of the data: "N\n" then N × "offset\nlength\n", block-padded. */
async function readSparse1Map(r: ByteReader, dataSize: number, at: string): Promise<{ segments: SparseSegment[]; bytes: number }> {
  let text = '';
  let bytes = 0;
  const nums: number[] = [];
  let needed = 1;
  while (nums.length < needed) {
    if (bytes + BLOCK > dataSize) throw new TarError(`${at}: GNU sparse 1.0 map runs past the entry's data`);
    const block = await r.read(BLOCK);
    if (block.length < BLOCK) throw new TarError(`unexpected end of archive in ${at} (sparse map)`);
    bytes += BLOCK;
    text += block.toString('latin1');
    let nl: number;
    while (nums.length < needed && (nl = text.indexOf('\n')) >= 0) {
      const line = text.slice(0, nl);
      text = text.slice(nl + 1);
      if (!/^[0-9]{1,16}$/.test(line)) throw new TarError(`${at}: malformed GNU sparse 1.0 map value ${JSON.stringify(line.slice(0, 20))}`);
      nums.push(Number(line));
      if (nums.length === 1) {
        const count = nums[0] ?? 0;
        if (count > dataSize) throw new TarError(`${at}: GNU sparse 1.0 map claims ${count} segments`);
        needed = 1 + 2 * count;
      }
    }
    if (nums.length < needed && text.length > 40 && text.indexOf('\n') < 0) throw new TarError(`${at}: malformed GNU sparse 1.0 map`);
  }
  const segments: SparseSegment[] = [];
  for (let i = 1; i < nums.length; i += 2) segments.push({ offset: nums[i] ?? 0, length: nums[i + 1] ?? 0 });
  return { segments, bytes };
}

export async function* readTar(
  source: AsyncIterable<Buffer | Uint8Array>,
  opts: ReadTarOptions = {},
): AsyncGenerator<TarEntry, void, undefined> {
  const maxMeta = opts.maxMetaSize ?? 1 << 20;
  const r = new ByteReader(source);
  let global: PaxRecord[] = [];
  let local: PaxRecord[] = [];
  let longName: string | undefined;
  let longLink: string | undefined;
  /** Offset of the first meta header waiting for its entry. */
  let metaAt: number | undefined;

  /** Bytes of meta headers held for the next entry, and of global PAX records: each capped by maxMeta. */
  let localBytes = 0;
  let globalBytes = 0;
  const readMeta = async (h: TarHeader, at: string, global = false): Promise<Buffer> => {
    const held = (global ? globalBytes : localBytes) + h.size;
    if (held > maxMeta) throw new TarError(`${at}: ${JSON.stringify(h.typeflag)} headers of ${held} bytes exceed the ${maxMeta}-byte limit`);
    if (global) globalBytes = held;
    else localBytes = held;
    const data = await r.read(h.size + padding(h.size));
    if (data.length < h.size + padding(h.size)) throw new TarError(`unexpected end of archive in ${at}`);
    return data.subarray(0, h.size);
  };
  const nulString = (b: Buffer): string => {
    const nul = b.indexOf(0);
    return (nul < 0 ? b : b.subarray(0, nul)).toString('utf8');
  };

  try {
    for (;;) {
      const hdrOffset = r.offset;
      const block = await r.read(BLOCK);
      if (block.length === 0) {
        if (metaAt !== undefined) throw new TarError(`unexpected end of archive after the extended header at offset ${metaAt}`);
        return; // no end-of-archive blocks: accepted, as Go's archive/tar does
      }
      if (block.length < BLOCK) throw new TarError(`unexpected end of archive in the header at offset ${hdrOffset}`);
      const h = parseHeader(block, hdrOffset);
      if (h === null) {
        if (metaAt !== undefined) throw new TarError(`${where(metaAt)}: extended header is followed by the end of the archive`);
        const second = await r.read(BLOCK);
        if (second.length === BLOCK && !isZeroBlock(second)) {
          throw new TarError(`header at offset ${hdrOffset + BLOCK}: a lone zero block at offset ${hdrOffset} inside the archive`);
        }
        await r.drain();
        return;
      }
      const metaName = longName ?? h.name;
      const at = where(hdrOffset, metaName);
      switch (h.typeflag) {
        case TypeFlag.pax:
          local = local.concat(parsePaxRecords(await readMeta(h, at), at));
          metaAt ??= hdrOffset;
          continue;
        case TypeFlag.paxGlobal:
          global = global.concat(parsePaxRecords(await readMeta(h, at, true), at));
          continue;
        case TypeFlag.gnuLongName:
          longName = nulString(await readMeta(h, at));
          metaAt ??= hdrOffset;
          continue;
        case TypeFlag.gnuLongLink:
          longLink = nulString(await readMeta(h, at));
          metaAt ??= hdrOffset;
          continue;
        case TypeFlag.gnuVolume: {
          const n = h.size + padding(h.size);
          if ((await r.skip(n)) < n) throw new TarError(`unexpected end of archive in ${at}`);
          continue;
        }
        default:
          break;
      }

      const entryOffset = metaAt ?? hdrOffset;
      const pax = paxAttributes(global.concat(local), at);
      let path = pax.path ?? longName ?? h.name;
      const eat = where(entryOffset, path);
      const type = entryType(h, path, eat);
      let dataSize = type === 'file' || h.typeflag === TypeFlag.gnuDumpDir ? (pax.size ?? h.size) : 0;
      let size = type === 'file' ? dataSize : 0;
      let sparse: SparseSegment[] | undefined;

      if (h.gnuSparse) {
        sparse = [...h.gnuSparse.segments];
        let ext = h.gnuSparse.isExtended;
        while (ext) {
          const extOffset = r.offset;
          const eb = await r.read(BLOCK);
          if (eb.length < BLOCK) throw new TarError(`unexpected end of archive in ${eat} (sparse extension)`);
          const more = parseSparseExtension(eb, extOffset);
          sparse.push(...more.segments);
          ext = more.isExtended;
        }
        size = h.gnuSparse.realSize;
      } else if (pax.sparse && type === 'file') {
        if (pax.sparse.name !== undefined) path = pax.sparse.name;
        size = pax.sparse.realSize;
        if (pax.sparse.version === '1.0') {
          const m = await readSparse1Map(r, dataSize, where(entryOffset, path));
          sparse = m.segments;
          dataSize -= m.bytes;
        } else {
          sparse = pax.sparse.segments ?? [];
        }
      }
      const pathAt = where(entryOffset, path);
      if (sparse) checkSparse(sparse, size, dataSize, pathAt);

      let remaining = dataSize;
      let claimed = false;
      let moved = false;
      const body = (): AsyncIterable<Buffer> => {
        if (claimed) throw new TarError(`${pathAt}: body() called twice`);
        if (moved) throw new TarError(`${pathAt}: body() called after the reader moved to the next entry`);
        claimed = true;
        return (async function* () {
          for await (const piece of r.take(remaining)) {
            if (moved) throw new TarError(`${pathAt}: body read after the reader moved to the next entry`);
            remaining -= piece.length;
            yield piece;
            if (moved) throw new TarError(`${pathAt}: body read after the reader moved to the next entry`);
          }
          if (remaining > 0) throw new TarError(`unexpected end of archive in ${pathAt}`);
        })();
      };

      const entry: TarEntry = {
        path,
        type,
        mode: h.mode,
        uid: pax.uid ?? h.uid,
        gid: pax.gid ?? h.gid,
        uname: pax.uname ?? h.uname,
        gname: pax.gname ?? h.gname,
        size,
        mtime: pax.mtime ?? h.mtime,
        linkname: type === 'symlink' || type === 'hardlink' ? (pax.linkpath ?? longLink ?? h.linkname) : '',
        devmajor: type === 'char' || type === 'block' ? h.devmajor : 0,
        devminor: type === 'char' || type === 'block' ? h.devminor : 0,
        xattrs: pax.xattrs,
        offset: entryOffset,
        body,
      };
      if (sparse) entry.sparse = sparse;
      local = [];
      localBytes = 0;
      longName = undefined;
      longLink = undefined;
      metaAt = undefined;

      yield entry;

      moved = true;
      const rest = remaining + padding(dataSize);
      if ((await r.skip(rest)) < rest) throw new TarError(`unexpected end of archive in ${pathAt}`);
    }
  } finally {
    await r.close();
  }
}
