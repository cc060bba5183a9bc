// src/image/tar: header/PAX parse+format, streaming reader, writer, safe paths and whiteouts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, writeSync, closeSync, symlinkSync, linkSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { TarError } from '../../src/image/tar/errors.ts';
import { BLOCK, formatHeader, formatNumber, parseHeader, parseNumber } from '../../src/image/tar/header.ts';
import { formatPaxRecords, paxAttributes, parsePaxRecords } from '../../src/image/tar/pax.ts';
import { readTar } from '../../src/image/tar/reader.ts';
import type { TarEntry } from '../../src/image/tar/reader.ts';
import { cleanEntryPath, isAufsMeta, isOpaqueMarker, isWhiteout, whiteoutTarget } from '../../src/image/tar/safepath.ts';
import { TarWriter } from '../../src/image/tar/writer.ts';
import { tarEntries } from '../fixtures/tar.ts';
import type { TarWriteEntry } from '../../src/image/tar/writer.ts';

async function* chunked(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function* pieces(...bufs: Buffer[]): AsyncGenerator<Buffer> {
  for (const b of bufs) yield b;
}

interface Read {
  entry: TarEntry;
  data: Buffer;
}

async function readAll(source: AsyncIterable<Buffer>): Promise<Read[]> {
  const out: Read[] = [];
  for await (const entry of readTar(source)) {
    const parts: Buffer[] = [];
    for await (const c of entry.body()) parts.push(Buffer.from(c));
    out.push({ entry, data: Buffer.concat(parts) });
  }
  return out;
}

function writeAll(entries: Array<[TarWriteEntry, Buffer?]>): Promise<Buffer> {
  return tarEntries(entries, 4096);
}

function flip(buf: Buffer, i: number): void {
  buf[i] = (buf[i] ?? 0) ^ 0x01;
}

async function rejects(p: Promise<unknown>, msg: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof TarError, `expected a TarError, got ${String(e)}`);
    assert.match(e.message, msg);
    return true;
  });
}

const CAP = Buffer.from('0100000200200000000000000000000000000000', 'hex'); // security.capability v2 (cap_net_bind_service)
const BIN = Buffer.from([0x00, 0xff, 0x0a, 0x3d, 0x20, 0x00]); // NUL, 0xff, '\n', '=', ' ', NUL
const LONG = `${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(29)}`; // 151 chars

const ALL: Array<[TarWriteEntry, Buffer?]> = [
  [{ path: 'dir', type: 'dir', mode: 0o1777, uid: 0, gid: 0, mtime: 1700000000 }],
  [{ path: 'dir/setuid', type: 'file', mode: 0o4755, uid: 1000, gid: 100, uname: 'alice', gname: 'users', mtime: 1700000000.25, xattrs: { 'security.capability': CAP, 'user.bin': BIN } }, Buffer.from('#!/bin/sh\necho hi\n')],
  [{ path: 'empty', type: 'file' }, Buffer.alloc(0)],
  [{ path: 'big', type: 'file', size: 1500 }, Buffer.alloc(1500, 0x61)],
  [{ path: LONG, type: 'file', mode: 0o600 }, Buffer.from('long name')],
  [{ path: 'abs-link', type: 'symlink', linkname: '/usr/bin/busybox' }],
  [{ path: 'long-link', type: 'symlink', linkname: `../${LONG}` }],
  [{ path: 'hard', type: 'hardlink', linkname: 'dir/setuid' }],
  [{ path: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 }],
  [{ path: 'dev/sda', type: 'block', mode: 0o660, devmajor: 8, devminor: 0 }],
  [{ path: 'dev/big', type: 'char', devmajor: 4095, devminor: 3_000_000 }],
  [{ path: 'fifo', type: 'fifo', mode: 0o600 }],
  [{ path: 'héllo wörld ☃', type: 'file', uid: 3_000_000_000, gid: 2_500_000_000, uname: 'u'.repeat(40) }, Buffer.from('x')],
  [{ path: 'a/.wh..wh..opq', type: 'file' }, Buffer.alloc(0)],
  [{ path: 'a/.wh.gone', type: 'char', devmajor: 0, devminor: 0 }],
];

function checkAll(got: Read[]): void {
  assert.equal(got.length, ALL.length);
  ALL.forEach(([want, body], i) => {
    const { entry: e, data } = got[i] as Read;
    const path = want.type === 'dir' ? `${want.path}/` : want.path;
    assert.equal(e.path, path, `entry ${i}`);
    assert.equal(e.type, want.type, path);
    assert.equal(e.mode, want.mode ?? (want.type === 'dir' ? 0o755 : 0o644), path);
    assert.equal(e.uid, want.uid ?? 0, path);
    assert.equal(e.gid, want.gid ?? 0, path);
    assert.equal(e.uname, want.uname ?? '', path);
    assert.equal(e.gname, want.gname ?? '', path);
    assert.equal(e.mtime, want.mtime ?? 0, path);
    assert.equal(e.linkname, want.linkname ?? '', path);
    assert.equal(e.devmajor, want.devmajor ?? 0, path);
    assert.equal(e.devminor, want.devminor ?? 0, path);
    assert.equal(e.size, body?.length ?? 0, path);
    assert.deepEqual(data, body ?? Buffer.alloc(0), path);
    assert.deepEqual(e.xattrs, new Map(Object.entries(want.xattrs ?? {})), path);
    assert.equal(e.sparse, undefined);
  });
}

describe('writer → reader round trip', () => {
  test('every entry type, long names, large ids, fractional mtime and binary xattrs survive', async () => {
    checkAll(await readAll(pieces(await writeAll(ALL))));
  });

  test('binary xattr bytes 0x00 0xff (and \\n, =) stay raw Buffers', async () => {
    const tar = await writeAll([[{ path: 'f', type: 'file', xattrs: new Map([['security.capability', CAP], ['user.bin', BIN]]) }, Buffer.alloc(0)]]);
    const [r] = await readAll(pieces(tar));
    const v = r?.entry.xattrs.get('user.bin');
    assert.ok(Buffer.isBuffer(v));
    assert.deepEqual([...v], [0x00, 0xff, 0x0a, 0x3d, 0x20, 0x00]);
    assert.deepEqual(r?.entry.xattrs.get('security.capability'), CAP);
  });

  test('output into a Writable gives the same bytes as the iterable', async () => {
    const { PassThrough } = await import('node:stream');
    const sink = new PassThrough();
    const parts: Buffer[] = [];
    sink.on('data', (c: Buffer) => parts.push(c));
    const w = new TarWriter(sink);
    for (const [e, b] of ALL) await w.add(e, b);
    await w.finish();
    sink.end();
    assert.deepEqual(Buffer.concat(parts), await writeAll(ALL));
  });

  test('streamed bodies, and a body that does not match its size is an error', async () => {
    const w = new TarWriter();
    const out = (async () => { for await (const _ of w) { /* drain */ } })();
    await w.add({ path: 'ok', type: 'file', size: 6 }, (async function* () { yield Buffer.from('abc'); yield Buffer.from('def'); })());
    await rejects(w.add({ path: 'short', type: 'file', size: 10 }, Buffer.from('abc')), /"short": body has 3 bytes, size says 10/);
    const w2 = new TarWriter();
    void (async () => { for await (const _ of w2) { /* drain */ } })();
    await rejects(w2.add({ path: 'long', type: 'file', size: 1 }, [Buffer.from('abc')]), /"long": body is longer than its size 1/);
    await rejects(w2.add({ path: 'next', type: 'dir' }), /"next": the archive is broken by an earlier error/);
    await w.finish().then(
      () => assert.fail('finish() after a failed add() must fail'),
      (e: unknown) => assert.match(String(e), /the archive is broken by an earlier error: .*"short"/),
    );
    void out;
  });

  test('an entry rejected before any byte is written leaves the writer usable', async () => {
    const w = new TarWriter();
    const out = (async () => { const b: Buffer[] = []; for await (const c of w) b.push(c); return Buffer.concat(b); })();
    await rejects(w.add({ path: 'd', type: 'dir' }, Buffer.from('x')), /"d": a dir has no content/);
    await rejects(w.add({ path: 'l', type: 'symlink' }), /"l": symlink without a linkname/);
    await rejects(w.add({ path: '', type: 'file' }), /empty path/);
    await w.add({ path: 'ok', type: 'file' }, Buffer.from('fine'));
    await w.finish();
    const got = await readAll(pieces(await out));
    assert.deepEqual(got.map((r) => [r.entry.path, r.data.toString()]), [['ok', 'fine']]);
  });

  test('the archive ends with two zero blocks and is block-aligned', async () => {
    const tar = await writeAll(ALL);
    assert.equal(tar.length % BLOCK, 0);
    assert.ok(tar.subarray(-1024).every((b) => b === 0));
  });
});

describe('chunk boundaries', () => {
  let tar: Buffer;
  before(async () => {
    tar = await writeAll(ALL);
  });

  for (const size of [1, 7, 511, 512, 513, 1023, 4096]) {
    test(`${size}-byte chunks`, async () => {
      checkAll(await readAll(chunked(tar, size)));
    });
  }

  test('split into two pieces at every offset', async () => {
    // The first six entries: PAX headers with xattrs and a long name, bodies of 0, 18 and 1500 bytes.
    const head = ALL.slice(0, 6);
    const small = await writeAll(head);
    for (let i = 0; i <= small.length; i += 1) {
      const got = await readAll(pieces(small.subarray(0, i), small.subarray(i)));
      assert.equal(got.length, head.length, `split at ${i}`);
      assert.equal(got[4]?.entry.path, LONG, `split at ${i}`);
      assert.deepEqual(got[1]?.data, ALL[1]?.[1], `split at ${i}`);
      assert.deepEqual(got[1]?.entry.xattrs.get('user.bin'), BIN, `split at ${i}`);
    }
  });
});

describe('reader', () => {
  test('bodies not read, or read in part, are skipped', async () => {
    const tar = await writeAll(ALL);
    const paths: string[] = [];
    let i = 0;
    for await (const e of readTar(chunked(tar, 100))) {
      paths.push(e.path);
      if (i++ % 2 === 0) {
        for await (const c of e.body()) {
          assert.ok(c.length > 0);
          break;
        }
      }
    }
    assert.equal(paths.length, ALL.length);
    assert.equal(paths[4], LONG);
  });

  test('a body read after moving on is an error', async () => {
    const tar = await writeAll(ALL);
    const entries: TarEntry[] = [];
    for await (const e of readTar(pieces(tar))) entries.push(e);
    assert.throws(() => entries[1]?.body(), /body\(\) called after the reader moved to the next entry/);
  });

  test('a corrupted checksum is an error naming the entry and its offset', async () => {
    const tar = Buffer.from(await writeAll(ALL));
    flip(tar, 0); // first header: 'dir/' → 'eir/'
    await rejects(readAll(pieces(tar)), /entry "eir\/" at offset 0: header checksum mismatch/);
    const tar2 = Buffer.from(await writeAll(ALL));
    flip(tar2, 512 + 100); // the second entry's PAX header mode field
    await rejects(readAll(pieces(tar2)), /at offset 512: header checksum mismatch/);
  });

  test('a truncated archive is an error naming the entry', async () => {
    const tar = await writeAll([[{ path: 'file.bin', type: 'file' }, Buffer.alloc(3000, 1)]]);
    await rejects(readAll(pieces(tar.subarray(0, 1000))), /unexpected end of archive in entry "file.bin" at offset 0/);
    await rejects(readAll(pieces(tar.subarray(0, 300))), /unexpected end of archive in the header at offset 0/);
    // only the padding missing
    await rejects(readAll(pieces(tar.subarray(0, 512 + 3000))), /unexpected end of archive in entry "file.bin"/);
    // a PAX header with no entry after it
    const pax = await writeAll([[{ path: 'x'.repeat(200), type: 'file' }, Buffer.alloc(0)]]);
    await rejects(readAll(pieces(pax.subarray(0, 1024))), /unexpected end of archive after the extended header at offset 0/);
    // truncated while the consumer reads the body
    await rejects(
      (async () => {
        for await (const e of readTar(pieces(tar.subarray(0, 1000)))) for await (const _ of e.body()) { /* read */ }
      })(),
      /unexpected end of archive in entry "file.bin"/,
    );
  });

  test('missing end blocks at an entry boundary are accepted; garbage after a lone zero block is not', async () => {
    const tar = await writeAll(ALL);
    const noEnd = tar.subarray(0, tar.length - 1024);
    assert.equal((await readAll(pieces(noEnd))).length, ALL.length);
    const garbage = Buffer.concat([noEnd, Buffer.alloc(512), tar.subarray(0, 512)]);
    await rejects(readAll(pieces(garbage)), /lone zero block/);
    // anything after the two zero blocks (record padding) is drained and ignored
    assert.equal((await readAll(pieces(tar, Buffer.alloc(8192)))).length, ALL.length);
  });

  test('global PAX headers apply to every later entry; per-entry PAX wins', async () => {
    const g = formatPaxRecords([{ key: 'uname', value: 'global' }, { key: 'SCHILY.xattr.user.g', value: Buffer.from([1, 2]) }]);
    const x = formatPaxRecords([{ key: 'uname', value: 'local' }, { key: 'SCHILY.xattr.user.g', value: '' }]);
    const pad = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((BLOCK - (b.length % BLOCK)) % BLOCK)]);
    const tar = Buffer.concat([
      formatHeader({ name: 'pax_global_header', mode: 0o644, uid: 0, gid: 0, size: g.length, mtime: 0, typeflag: 'g' }),
      pad(g),
      formatHeader({ name: 'one', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0, typeflag: '0' }),
      formatHeader({ name: 'PaxHeaders/two', mode: 0o644, uid: 0, gid: 0, size: x.length, mtime: 0, typeflag: 'x' }),
      pad(x),
      formatHeader({ name: 'two', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0, typeflag: '0' }),
      formatHeader({ name: 'three', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0, typeflag: '0' }),
      Buffer.alloc(1024),
    ]);
    const got = await readAll(pieces(tar));
    assert.deepEqual(got.map((r) => [r.entry.path, r.entry.uname, [...r.entry.xattrs.keys()]]), [
      ['one', 'global', ['user.g']],
      ['two', 'local', []],
      ['three', 'global', ['user.g']],
    ]);
  });

  test('PAX and GNU long-name headers are capped by maxMetaSize', async () => {
    const tar = await writeAll([[{ path: 'p'.repeat(5000), type: 'file' }, Buffer.alloc(0)]]);
    assert.equal((await readAll(pieces(tar))).length, 1);
    await assert.rejects(
      (async () => {
        for await (const _ of readTar(pieces(tar), { maxMetaSize: 1000 })) { /* nothing */ }
      })(),
      /"x" headers of 50\d\d bytes exceed the 1000-byte limit/,
    );
  });

  test('reads a file stream (fs.createReadStream) with its small default chunks', async () => {
    const { createReadStream } = await import('node:fs');
    const d = mkdtempSync(join(tmpdir(), 'berth-tar-'));
    try {
      writeFileSync(join(d, 'a.tar'), await writeAll(ALL));
      checkAll(await readAll(createReadStream(join(d, 'a.tar'), { highWaterMark: 1000 })));
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('an unknown type flag is an error naming the entry', async () => {
    const tar = Buffer.concat([formatHeader({ name: 'weird', mode: 0, uid: 0, gid: 0, size: 0, mtime: 0, typeflag: 'Z' }), Buffer.alloc(1024)]);
    await rejects(readAll(pieces(tar)), /entry "weird" at offset 0: unsupported entry type "Z"/);
  });
});

describe('header numbers', () => {
  test('octal when it fits, GNU base-256 when it does not', () => {
    const b = Buffer.alloc(12);
    formatNumber(b, 0, 12, 0o777);
    assert.equal(b.toString('latin1'), '00000000777\0');
    const big = 10 * 2 ** 30 + 123; // 10 GiB: more than 11 octal digits
    formatNumber(b, 0, 12, big);
    assert.equal(b[0], 0x80);
    assert.equal(parseNumber(b, 0, 12, 'size'), big);
    formatNumber(b, 0, 12, -1);
    assert.equal(b[0], 0xff);
    assert.equal(parseNumber(b, 0, 12, 'mtime'), -1);
  });

  test('a header with a base-256 size parses; the reader then wants that much data', async () => {
    const size = 2 ** 33 + 5;
    const h = formatHeader({ name: 'huge', mode: 0o644, uid: 0, gid: 0, size, mtime: 0, typeflag: '0' });
    assert.equal(h[124], 0x80);
    assert.equal(parseHeader(h, 0)?.size, size);
    const seen: number[] = [];
    await rejects(
      (async () => {
        for await (const e of readTar(pieces(h, Buffer.alloc(1024)))) seen.push(e.size);
      })(),
      /unexpected end of archive in entry "huge"/,
    );
    assert.deepEqual(seen, [size]);
  });

  test('octal fields padded with spaces (old tars) parse', () => {
    const b = Buffer.from(' 1234 \0');
    assert.equal(parseNumber(b, 0, b.length, 'mode'), 0o1234);
    assert.throws(() => parseNumber(Buffer.from('12x4\0'), 0, 5, 'mode'), /mode: invalid octal number "12x4"/);
  });
});

describe('PAX records', () => {
  test('length includes its own digits; values are raw bytes', () => {
    const rec = formatPaxRecords([{ key: 'path', value: 'a'.repeat(93) }]);
    // 3 digits + ' path=' + 93 + '\n' = 3+1+5+93+1 = 103
    assert.equal(rec.toString('latin1', 0, 4), '103 ');
    assert.equal(rec.length, 103);
    const parsed = parsePaxRecords(formatPaxRecords([{ key: 'SCHILY.xattr.user.x', value: BIN }, { key: 'mtime', value: '1.5' }]), 'test');
    assert.deepEqual(parsed[0]?.value, BIN);
    assert.equal(paxAttributes(parsed, 'test').mtime, 1.5);
  });

  test('malformed records are errors', () => {
    assert.throws(() => parsePaxRecords(Buffer.from('99 path=x\n'), 'hdr'), /hdr: PAX record at byte 0 has a bad length 99/);
    assert.throws(() => parsePaxRecords(Buffer.from('10 path=xy'), 'hdr'), /does not end with a newline/);
    assert.throws(() => paxAttributes(parsePaxRecords(Buffer.from('11 size=-1\n'), 'hdr'), 'hdr'), /PAX size="-1" is not a non-negative integer/);
  });

  test('GNU sparse 0.0 and 0.1 maps', () => {
    const r00 = parsePaxRecords(formatPaxRecords([
      { key: 'GNU.sparse.size', value: '100' }, { key: 'GNU.sparse.numblocks', value: '2' },
      { key: 'GNU.sparse.offset', value: '0' }, { key: 'GNU.sparse.numbytes', value: '5' },
      { key: 'GNU.sparse.offset', value: '50' }, { key: 'GNU.sparse.numbytes', value: '7' },
    ]), 't');
    assert.deepEqual(paxAttributes(r00, 't').sparse, { version: '0.0', realSize: 100, segments: [{ offset: 0, length: 5 }, { offset: 50, length: 7 }] });
    const r01 = parsePaxRecords(formatPaxRecords([
      { key: 'GNU.sparse.size', value: '100' }, { key: 'GNU.sparse.numblocks', value: '1' },
      { key: 'GNU.sparse.name', value: 'real' }, { key: 'GNU.sparse.map', value: '10,20' },
    ]), 't');
    assert.deepEqual(paxAttributes(r01, 't').sparse, { version: '0.1', realSize: 100, name: 'real', segments: [{ offset: 10, length: 20 }] });
  });
});

describe('cleanEntryPath and whiteouts', () => {
  test('traversal and absolute names are rejected, naming the entry', () => {
    for (const [p, why] of [
      ['../x', /tar entry "\.\.\/x": path escapes the layer root/],
      ['/etc/passwd', /tar entry "\/etc\/passwd": absolute path not allowed/],
      ['a/../../b', /tar entry "a\/\.\.\/\.\.\/b": path escapes the layer root/],
      ['./../x', /escapes the layer root/],
      ['..', /escapes the layer root/],
      ['', /empty path/],
      ['a\0b', /NUL byte/],
    ] as const) {
      assert.throws(() => cleanEntryPath(p), (e: unknown) => e instanceof TarError && why.test(e.message), p);
    }
  });

  test('the layer root written as / (umoci) is the root; /. and //x stay refused', () => {
    assert.equal(cleanEntryPath('/'), '.');
    assert.equal(cleanEntryPath('//'), '.');
    for (const p of ['/.', '//x', '/etc/']) assert.throws(() => cleanEntryPath(p), /absolute path not allowed/, p);
  });

  test('normalises ./, //, trailing / and inner ..', () => {
    assert.equal(cleanEntryPath('./etc/passwd'), 'etc/passwd');
    assert.equal(cleanEntryPath('a//b/./c/'), 'a/b/c');
    assert.equal(cleanEntryPath('a/../b'), 'b');
    assert.equal(cleanEntryPath('./'), '.');
    assert.equal(cleanEntryPath('.'), '.');
    assert.equal(cleanEntryPath('...'), '...');
    assert.equal(cleanEntryPath('a/..b'), 'a/..b');
  });

  test('whiteouts, opaque markers and AUFS metadata', () => {
    assert.equal(isWhiteout('a/b/.wh.c'), true);
    assert.equal(whiteoutTarget('a/b/.wh.c'), 'a/b/c');
    assert.equal(whiteoutTarget('.wh.top'), 'top');
    assert.equal(isWhiteout('a/.wh..wh..opq'), false);
    assert.equal(isOpaqueMarker('a/.wh..wh..opq'), true);
    assert.equal(isOpaqueMarker('.wh..wh..opq'), true);
    assert.equal(isOpaqueMarker('a/.wh.x'), false);
    assert.equal(isAufsMeta('.wh..wh.plnk'), true);
    assert.equal(isWhiteout('.wh..wh.plnk'), false);
    assert.equal(isWhiteout('a/x.wh.y'), false);
    assert.equal(isWhiteout('a/.wh.'), false);
    assert.throws(() => whiteoutTarget('a/b'), /not a whiteout/);
    assert.throws(() => whiteoutTarget('a/.wh...'), /whiteout of "\.\."/);
  });
});

// ---- archives made by GNU tar ----

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Set user.bin = 00 ff 10 with setfattr (or python3's os.setxattr without it); the reason to skip when neither works. */
function setBinXattr(file: string): string | undefined {
  if (have('setfattr')) {
    const r = spawnSync('setfattr', ['-n', 'user.bin', '-v', '0x00ff10', file]);
    return r.status === 0 ? undefined : `setfattr failed: ${r.stderr.toString().trim()}`;
  }
  if (have('python3')) {
    const r = spawnSync('python3', ['-c', 'import os, sys; os.setxattr(sys.argv[1], "user.bin", bytes([0, 255, 16]))', file]);
    return r.status === 0 ? undefined : `python3 os.setxattr failed: ${r.stderr.toString().trim()}`;
  }
  return 'neither setfattr (Debian package attr) nor python3 is installed';
}

function expand(segments: { offset: number; length: number }[], data: Buffer, size: number): Buffer {
  const out = Buffer.alloc(size);
  let pos = 0;
  for (const s of segments) {
    data.copy(out, s.offset, pos, pos + s.length);
    pos += s.length;
  }
  assert.equal(pos, data.length);
  return out;
}

describe('archives written by GNU tar', () => {
  const haveTar = have('tar');
  let dir = '';
  let src = '';
  const NAME150 = `${'n'.repeat(70)}/${'m'.repeat(79)}`;
  let xattrSkip: string | undefined;
  let sparseFile: Buffer;

  before(() => {
    if (!haveTar) return;
    dir = mkdtempSync(join(tmpdir(), 'berth-tar-'));
    src = join(dir, 'src');
    mkdirSync(join(src, 'n'.repeat(70)), { recursive: true });
    writeFileSync(join(src, NAME150), 'a file with a 150-char name\n');
    writeFileSync(join(src, 'plain'), Buffer.alloc(700, 0x42));
    symlinkSync('/etc/hostname', join(src, 'abs-link'));
    linkSync(join(src, 'plain'), join(src, 'hard'));
    execFileSync('mkfifo', [join(src, 'fifo')]);
    xattrSkip = setBinXattr(join(src, 'plain'));
    // a 10 MiB sparse file with 9 data islands (more than the 4 an old GNU header holds)
    const sp = join(src, 'sparse');
    execFileSync('truncate', ['-s', '10M', sp]);
    const fd = openSync(sp, 'r+');
    for (let i = 0; i < 9; i++) writeSync(fd, Buffer.from(`island ${i}`), 0, 8, i * 1024 * 1024 + 12345);
    closeSync(fd);
    sparseFile = readFileSync(sp);
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function gnuTar(args: string[], files: string[]): Buffer {
    return execFileSync('tar', ['-C', src, '-cf', '-', '--mtime=@1700000000', '--owner=0', '--group=0', ...args, ...files], { maxBuffer: 1 << 26 });
  }

  function byPath(got: Read[]): Map<string, Read> {
    return new Map(got.map((r) => [r.entry.path, r]));
  }

  for (const format of ['gnu', 'pax'] as const) {
    test(`--format=${format}: long name, symlink, hardlink, fifo`, { skip: !haveTar && 'GNU tar not installed' }, async () => {
      const tar = gnuTar([`--format=${format}`], [NAME150, 'plain', 'abs-link', 'hard', 'fifo']);
      for (const size of [tar.length, 1, 511, 513]) {
        const got = byPath(await readAll(chunked(tar, size)));
        assert.equal(got.get(NAME150)?.data.toString(), 'a file with a 150-char name\n', `${size}`);
        assert.equal(got.get(NAME150)?.entry.type, 'file');
        assert.deepEqual(got.get('plain')?.data, Buffer.alloc(700, 0x42));
        assert.equal(got.get('plain')?.entry.mtime, 1700000000);
        assert.equal(got.get('abs-link')?.entry.type, 'symlink');
        assert.equal(got.get('abs-link')?.entry.linkname, '/etc/hostname');
        assert.equal(got.get('hard')?.entry.type, 'hardlink');
        assert.equal(got.get('hard')?.entry.linkname, 'plain');
        assert.equal(got.get('fifo')?.entry.type, 'fifo');
      }
    });
  }

  test('--format=gnu with a uid too large for octal (base-256)', { skip: !haveTar && 'GNU tar not installed' }, async () => {
    const tar = gnuTar(['--format=gnu', '--owner=big:3000000000', '--group=big:2200000000'], ['plain']);
    const [r] = await readAll(pieces(tar));
    assert.equal(r?.entry.uid, 3000000000);
    assert.equal(r?.entry.gid, 2200000000);
    assert.equal(r?.entry.uname, 'big');
  });

  test('--format=pax --xattrs keeps a binary xattr (0x00 0xff 0x10) as bytes', { skip: !haveTar && 'GNU tar not installed' }, async (t) => {
    if (xattrSkip) {
      t.skip(xattrSkip);
      return;
    }
    const tar = gnuTar(['--format=pax', '--xattrs', '--xattrs-include=user.*'], ['plain']);
    for (const size of [1, 511, 513, tar.length]) {
      const [r] = await readAll(chunked(tar, size));
      assert.deepEqual(r?.entry.xattrs.get('user.bin'), Buffer.from([0x00, 0xff, 0x10]));
    }
  });

  test('GNU tar reads what TarWriter writes (names, link targets, devices, content, binary xattrs)', { skip: !haveTar && 'GNU tar not installed' }, async () => {
    const tar = await writeAll(ALL);
    const names = execFileSync('tar', ['-tf', '-'], { input: tar }).toString().split('\n').filter(Boolean);
    assert.deepEqual(names, ALL.map(([e]) => (e.type === 'dir' ? `${e.path}/` : e.path)));
    const verbose = execFileSync('tar', ['-tvf', '-', '--numeric-owner'], { input: tar }).toString();
    assert.match(verbose, /^crw-rw-rw- 0\/0 +1,3 .* dev\/null$/m);
    assert.match(verbose, /^lrw-r--r-- 0\/0 +0 .* abs-link -> \/usr\/bin\/busybox$/m);
    assert.match(verbose, /^hrw-r--r-- 0\/0 +0 .* hard link to dir\/setuid$/m);
    assert.match(verbose, /^-rwsr-xr-x 1000\/100 .* dir\/setuid$/m);
    assert.equal(execFileSync('tar', ['-xOf', '-', LONG], { input: tar }).toString(), 'long name');
    const out = join(dir, 'out');
    mkdirSync(out);
    execFileSync('tar', ['-C', out, '--xattrs', '--xattrs-include=user.*', '-xf', '-', 'dir'], { input: tar });
    assert.equal(readFileSync(join(out, 'dir/setuid')).toString(), '#!/bin/sh\necho hi\n');
    if (have('python3')) {
      const v = execFileSync('python3', ['-c', 'import os, sys; sys.stdout.write(os.getxattr(sys.argv[1], "user.bin").hex())', join(out, 'dir/setuid')]).toString();
      assert.equal(v, BIN.toString('hex'));
    }
  });

  const sparseCases: Array<[string, string[]]> = [
    ['--format=gnu (old GNU sparse headers + extension blocks)', ['--format=gnu']],
    ['--format=pax --sparse-version=0.0', ['--format=pax', '--sparse-version=0.0']],
    ['--format=pax --sparse-version=0.1', ['--format=pax', '--sparse-version=0.1']],
    ['--format=pax --sparse-version=1.0', ['--format=pax', '--sparse-version=1.0']],
  ];
  for (const [name, args] of sparseCases) {
    test(`sparse file, ${name}`, { skip: !haveTar && 'GNU tar not installed' }, async () => {
      const tar = gnuTar(['--sparse', ...args], ['sparse', 'plain']);
      assert.ok(tar.length < 1 << 20, `archive is ${tar.length} bytes: not stored sparse`);
      for (const size of [tar.length, 511, 513]) {
        const got = await readAll(chunked(tar, size));
        assert.deepEqual(got.map((r) => r.entry.path), ['sparse', 'plain']);
        const r = got[0] as Read;
        assert.equal(r.entry.size, 10 * 1024 * 1024);
        assert.ok(r.entry.sparse && r.entry.sparse.length >= 9, JSON.stringify(r.entry.sparse));
        assert.ok(expand(r.entry.sparse, r.data, r.entry.size).equals(sparseFile));
        assert.deepEqual(got[1]?.data, Buffer.alloc(700, 0x42));
      }
    });
  }
});
