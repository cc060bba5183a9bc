// Layer unpacking (src/image/unpack): every entry type, overlay whiteouts, and hostile layers. Needs root.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { tarEntries } from '../fixtures/tar.ts';
import type { TarWriteEntry } from '../../src/image/tar/index.ts';
import { extractLayer, UnpackError } from '../../src/image/unpack/index.ts';

const temps: string[] = [];
function tempDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `berth-unpack-${tag}-`));
  temps.push(d);
  return d;
}
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

function layer(entries: Array<[TarWriteEntry, Buffer?]>): Promise<Buffer> {
  return tarEntries(entries);
}

async function* chunks(buf: Buffer, size = 1000): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

function getxattr(path: string, name: string): string | null {
  const out = execFileSync('python3', ['-c', `
import os, sys
try: print(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).hex())
except OSError: print('none')
`, path, name]).toString().trim();
  return out === 'none' ? null : out;
}

test('every entry type, ownership, setuid, xattrs, devices, whiteouts and an opaque dir', async () => {
  const dest = tempDir('all');
  const T = 1_600_000_000;
  const tar = await layer([
    [{ path: './', type: 'dir', mode: 0o755, mtime: T }],
    [{ path: 'bin/', type: 'dir', mode: 0o755, mtime: T + 1 }],
    [{ path: 'bin/su', type: 'file', mode: 0o4755, uid: 0, gid: 0, mtime: T + 2 }, Buffer.from('#!/bin/sh\n')],
    [{ path: 'bin/data', type: 'file', mode: 0o640, uid: 1000, gid: 1001, mtime: T + 3, xattrs: { 'user.bin': Buffer.from([0x00, 0xff]) } }, Buffer.alloc(70_000, 7)],
    [{ path: 'bin/sg', type: 'file', mode: 0o2711, uid: 1000, gid: 50, mtime: T }, Buffer.from('x')],
    [{ path: 'bin/link', type: 'hardlink', linkname: 'bin/data' }],
    [{ path: 'bin/abs', type: 'symlink', linkname: '/etc/passwd', uid: 1000, gid: 1000, mtime: T + 4 }],
    [{ path: 'bin/rel', type: 'symlink', linkname: '../nowhere', mtime: T + 5 }],
    [{ path: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3, mtime: T + 6 }],
    [{ path: 'dev/sda', type: 'block', mode: 0o660, uid: 0, gid: 6, devmajor: 8, devminor: 0 }],
    [{ path: 'run/fifo', type: 'fifo', mode: 0o620, uid: 1000, gid: 1000 }],
    [{ path: 'tmp/', type: 'dir', mode: 0o1777, mtime: T + 7 }],
    [{ path: 'etc/.wh.gone', type: 'file', size: 0 }, Buffer.alloc(0)],
    [{ path: 'opt/', type: 'dir', mode: 0o750, uid: 5, gid: 6, mtime: T + 8 }],
    [{ path: 'opt/.wh..wh..opq', type: 'file', size: 0 }, Buffer.alloc(0)],
    [{ path: 'opt/kept', type: 'file', mode: 0o600 }, Buffer.from('kept')],
    [{ path: 'replaced', type: 'file' }, Buffer.from('first')],
    [{ path: 'replaced', type: 'symlink', linkname: 'bin/su' }],
    [{ path: 'node-then-file', type: 'char', devmajor: 1, devminor: 5 }],
    [{ path: 'node-then-file', type: 'file' }, Buffer.from('file wins')],
  ]);
  const stats = await extractLayer(chunks(tar, 777), dest);
  assert.equal(stats.files, 6);
  assert.equal(stats.whiteouts, 1);
  assert.equal(stats.opaques, 1);
  assert.equal(stats.devices, 3);
  assert.equal(stats.fifos, 1);
  assert.equal(stats.hardlinks, 1);

  const su = lstatSync(join(dest, 'bin/su'));
  assert.equal(su.mode & 0o7777, 0o4755);
  const sg = lstatSync(join(dest, 'bin/sg'));
  assert.equal(sg.mode & 0o7777, 0o2711);
  assert.deepEqual([sg.uid, sg.gid], [1000, 50]);
  const data = lstatSync(join(dest, 'bin/data'));
  assert.deepEqual([data.mode & 0o7777, data.uid, data.gid, data.size, data.nlink], [0o640, 1000, 1001, 70_000, 2]);
  assert.equal(data.mtimeMs, (T + 3) * 1000);
  assert.deepEqual(readFileSync(join(dest, 'bin/data')), Buffer.alloc(70_000, 7));
  assert.equal(lstatSync(join(dest, 'bin/link')).ino, data.ino);
  assert.equal(getxattr(join(dest, 'bin/data'), 'user.bin'), '00ff');

  const abs = lstatSync(join(dest, 'bin/abs'));
  assert.ok(abs.isSymbolicLink());
  assert.equal(readlinkSync(join(dest, 'bin/abs')), '/etc/passwd');
  assert.deepEqual([abs.uid, abs.gid, abs.mtimeMs], [1000, 1000, (T + 4) * 1000]);
  assert.equal(readlinkSync(join(dest, 'bin/rel')), '../nowhere');

  const nul = lstatSync(join(dest, 'dev/null'));
  assert.ok(nul.isCharacterDevice());
  assert.equal(nul.rdev, 0x103);
  assert.equal(nul.mode & 0o7777, 0o666);
  assert.equal(nul.mtimeMs, (T + 6) * 1000);
  const sda = lstatSync(join(dest, 'dev/sda'));
  assert.ok(sda.isBlockDevice());
  assert.deepEqual([sda.rdev, sda.mode & 0o7777, sda.gid], [0x800, 0o660, 6]);
  const fifo = lstatSync(join(dest, 'run/fifo'));
  assert.ok(fifo.isFIFO());
  assert.deepEqual([fifo.mode & 0o7777, fifo.uid], [0o620, 1000]);

  const tmp = lstatSync(join(dest, 'tmp'));
  assert.deepEqual([tmp.mode & 0o7777, tmp.mtimeMs], [0o1777, (T + 7) * 1000]);
  assert.equal(lstatSync(join(dest, 'bin')).mtimeMs, (T + 1) * 1000);
  assert.equal(lstatSync(dest).mtimeMs, T * 1000);

  const gone = lstatSync(join(dest, 'etc/gone'));
  assert.ok(gone.isCharacterDevice());
  assert.deepEqual([gone.rdev, gone.uid, gone.gid], [0, 0, 0]);
  assert.ok(!existsSync(join(dest, 'etc/.wh.gone')));
  const opt = lstatSync(join(dest, 'opt'));
  assert.deepEqual([opt.mode & 0o7777, opt.uid, opt.gid, opt.mtimeMs], [0o750, 5, 6, (T + 8) * 1000]);
  assert.equal(getxattr(join(dest, 'opt'), 'trusted.overlay.opaque'), Buffer.from('y').toString('hex'));
  assert.deepEqual(readdirSync(join(dest, 'opt')), ['kept']);

  assert.equal(readlinkSync(join(dest, 'replaced')), 'bin/su');
  assert.equal(readFileSync(join(dest, 'node-then-file'), 'utf8'), 'file wins');
});

test('sparse file (GNU tar --sparse, PAX) written at its offsets and truncated to its size', async () => {
  const src = tempDir('sparse-src');
  const f = join(src, 'holes');
  writeFileSync(f, '');
  truncateSync(f, 4 << 20);
  execFileSync('sh', ['-c', `printf head | dd of=${f} conv=notrunc status=none; printf tail | dd of=${f} bs=1 seek=${3 << 20} conv=notrunc status=none`]);
  const tar = execFileSync('tar', ['-C', src, '--sparse', '--format=pax', '-cf', '-', 'holes'], { maxBuffer: 64 << 20 });
  const dest = tempDir('sparse');
  await extractLayer(chunks(tar, 4096), dest);
  const out = readFileSync(join(dest, 'holes'));
  assert.equal(out.length, 4 << 20);
  assert.deepEqual(out, readFileSync(f));
  assert.ok(statSync(join(dest, 'holes')).blocks * 512 < 1 << 20, 'holes kept');
});

test('entries created with their final mode keep the owner the tar says, even in a setgid dir', async () => {
  const dest = tempDir('owners');
  const T = 1_700_000_000;
  const tar = await layer([
    [{ path: 'sg/', type: 'dir', mode: 0o2775, uid: 0, gid: 50, mtime: T }],
    [{ path: 'sg/root-file', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: T }, Buffer.from('x')],
    [{ path: 'sg/root-dir/', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: T }],
    [{ path: 'sg/root-link', type: 'symlink', linkname: 'root-file', uid: 0, gid: 0, mtime: T }],
    [{ path: 'plain/', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: T }],
    [{ path: 'plain/suid', type: 'file', mode: 0o4755, uid: 0, gid: 0, mtime: T }, Buffer.from('y')],
    [{ path: 'plain/group-writable', type: 'file', mode: 0o664, uid: 0, gid: 0, mtime: T }, Buffer.from('z')],
  ]);
  await extractLayer(chunks(tar), dest);
  const st = (p: string) => lstatSync(join(dest, p));
  assert.equal(st('sg').gid, 50);
  assert.equal(st('sg').mode & 0o7777, 0o2775);
  // a setgid parent would have given them group 50: the tar says 0
  for (const p of ['sg/root-file', 'sg/root-dir', 'sg/root-link']) assert.equal(st(p).gid, 0, p);
  assert.equal(st('sg/root-dir').mode & 0o7777, 0o755);
  assert.equal(st('plain/suid').mode & 0o7777, 0o4755);
  // 0664 is reduced by a 022 umask at creation: set afterwards
  assert.equal(st('plain/group-writable').mode & 0o7777, 0o664);
  assert.equal(st('plain/suid').mtime.getTime(), T * 1000);
});

async function hostile(entries: Array<[TarWriteEntry, Buffer?]>, msg: RegExp): Promise<string> {
  const dest = join(tempDir('hostile'), 'layer');
  mkdirSync(dest);
  const tar = await layer(entries);
  await assert.rejects(extractLayer(chunks(tar), dest), (e: unknown) => {
    assert.match((e as Error).message, msg);
    return true;
  });
  return dest;
}

test('hostile layers are refused and nothing is written outside the layer dir', async () => {
  const outside = tempDir('outside');
  // traversal and absolute names (the TarWriter must be coaxed: write raw names)
  let dest = await hostile([[{ path: '../escape', type: 'file' }, Buffer.from('x')]], /escapes the layer root/);
  assert.ok(!existsSync(join(dest, '../escape')));
  dest = await hostile([[{ path: `/${outside.slice(1)}/abs`, type: 'file' }, Buffer.from('x')]], /absolute path/);
  assert.ok(!existsSync(join(outside, 'abs')));

  // a symlink out, then an entry through it
  dest = await hostile([
    [{ path: 'x', type: 'symlink', linkname: outside }],
    [{ path: 'x/file', type: 'file' }, Buffer.from('pwned')],
  ], /"x\/file": "x" is a symlink/);
  assert.deepEqual(readdirSync(outside), []);
  // … and a whiteout, an opaque marker, a device, a dir through it
  for (const e of [
    { path: 'x/.wh.y', type: 'file' },
    { path: 'x/.wh..wh..opq', type: 'file' },
    { path: 'x/null', type: 'char', devmajor: 1, devminor: 3 },
    { path: 'x/sub/', type: 'dir' },
    { path: 'x/h', type: 'hardlink', linkname: 'f' },
  ] as TarWriteEntry[]) {
    await hostile([[{ path: 'f', type: 'file' }, Buffer.alloc(0)], [{ path: 'x', type: 'symlink', linkname: outside }], [e, Buffer.alloc(0)]], /is a symlink/);
    assert.deepEqual(readdirSync(outside), []);
    assert.equal(execFileSync('python3', ['-c', 'import os, sys; print(os.listxattr(sys.argv[1]))', outside], { encoding: 'utf8' }).trim(), '[]');
  }
  // a hardlink whose target goes through the symlink
  await hostile([[{ path: 'x', type: 'symlink', linkname: '/etc' }], [{ path: 'h', type: 'hardlink', linkname: 'x/passwd' }]], /"x" is a symlink/);

  // hardlinks out of the layer
  dest = await hostile([[{ path: 'pw', type: 'hardlink', linkname: '../../etc/passwd' }]], /hardlink target "..\/..\/etc\/passwd".*escapes/);
  assert.ok(!existsSync(join(dest, 'pw')));
  await hostile([[{ path: 'pw', type: 'hardlink', linkname: '/etc/passwd' }]], /absolute path/);
  await hostile([[{ path: 'pw', type: 'hardlink', linkname: 'missing' }]], /"missing" does not exist/);
  // a non-directory on the way
  await hostile([[{ path: 'f', type: 'file' }, Buffer.alloc(0)], [{ path: 'f/g', type: 'file' }, Buffer.alloc(0)]], /"f" is not a directory/);
  assert.ok(new UnpackError('x') instanceof Error);
});

test('the native records resolve inside the root and follow no symlink either', async () => {
  const { runNative } = await import('../../src/image/unpack/native.ts');
  const outside = tempDir('native-outside');
  const root = tempDir('native-root');
  execFileSync('ln', ['-s', outside, join(root, 'x')]);
  await assert.rejects(runNative(root, [{ op: 'mknod_at', rel: 'x/null', mode: 0o020666, dev: 0x103n, uid: 0, gid: 0, mtime: 0 }], 'test'), /mknod_at: x\/null in .*: opening its directory.*Too many levels of symbolic links/);
  await assert.rejects(runNative(root, [{ op: 'setxattr_at', rel: 'x/.', name: 'user.a', value: Buffer.from('b') }], 'test'), /setxattr_at: x\/\. in .*Too many levels of symbolic links/);
  assert.deepEqual(readdirSync(outside), []);
  assert.equal(execFileSync('python3', ['-c', 'import os, sys; print(os.listxattr(sys.argv[1]))', outside], { encoding: 'utf8' }).trim(), '[]');
  // the final component is not followed: the xattr lands on the symlink itself
  await runNative(root, [{ op: 'setxattr_at', rel: 'x', name: 'trusted.t', value: Buffer.from([0, 1]) }], 'test');
  assert.equal(getxattr(join(root, 'x'), 'trusted.t'), '0001');
  assert.equal(execFileSync('python3', ['-c', 'import os, sys; print(os.listxattr(sys.argv[1]))', outside], { encoding: 'utf8' }).trim(), '[]');
});
