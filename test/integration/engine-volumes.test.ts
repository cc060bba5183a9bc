// The engine's volume service through the interface container create/rm call (prepareMounts,
// releaseMounts), on the real filesystem as root: copy-up of an image directory (owners, modes,
// xattrs, hard links, a symlink pointing out of the rootfs copied as a symlink, a symlinked
// destination resolved inside the rootfs), the in-use refusal, rm -v semantics, references
// surviving a reopen (a daemon restart), tmpfs and bind device volumes mounted exactly while in
// use, and a crash's leftovers. Every volume, mount and directory is removed at the end.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { ConflictError, InvalidParameterError, NotFoundError } from '../../src/engine/errors.ts';
import { parseMountSpec, type MountPoint } from '../../src/engine/spec/mounts.ts';
import { copyUp, VolumeService } from '../../src/engine/volumes/index.ts';

const SKIP = process.getuid?.() !== 0 ? 'needs root' : false;
const ID1 = 'a1'.repeat(32);
const ID2 = 'b2'.repeat(32);

let T = '';
let rootfs = '';
let data = '';

const vol = (destination: string, source = '', extra: Partial<MountPoint> = {}): MountPoint => ({ type: 'volume', destination, source, rw: true, propagation: '', ...extra });

function getxattr(p: string, name: string): string | undefined {
  try {
    return execFileSync('python3', ['-c', 'import os, sys; sys.stdout.write(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).decode())', p, name], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  } catch {
    return undefined;
  }
}

/** mount points of this test (mountinfo field 5) with their filesystem type */
function mountsUnder(dir: string): { path: string; fstype: string }[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l !== '').map((l) => {
    const f = l.split(' ');
    const sep = f.indexOf('-');
    return { path: f[4]!, fstype: f[sep + 1]! };
  }).filter((m) => m.path === dir || m.path.startsWith(`${dir}/`));
}

/** An image's rootfs: /data with owners, modes, an xattr, hard links and hostile symlinks. */
async function makeRootfs(dir: string): Promise<void> {
  const d = join(dir, 'data');
  await fs.mkdir(join(d, 'sub'), { recursive: true });
  await fs.writeFile(join(d, 'file'), 'image content\n');
  await fs.chown(join(d, 'file'), 1001, 1002);
  await fs.chmod(join(d, 'file'), 0o640);
  await fs.link(join(d, 'file'), join(d, 'hardlink'));
  await fs.writeFile(join(d, 'sub', 'suid'), '#!/bin/sh\n');
  await fs.chmod(join(d, 'sub', 'suid'), 0o4755);
  await fs.symlink('/etc/passwd', join(d, 'escape')); // absolute: out of the rootfs if followed on the host
  await fs.symlink('../../../../../../etc', join(d, 'up'));
  await fs.chown(d, 1234, 5678);
  await fs.chmod(d, 0o750);
  execFileSync('python3', ['-c', 'import os, sys; os.setxattr(sys.argv[1], "trusted.h9l", b"kept")', join(d, 'file')]);
  // destinations that are symlinks in the image: resolved inside the rootfs, never on the host
  await fs.symlink('/data', join(dir, 'alias'));
  await fs.symlink('/etc', join(dir, 'hostetc'));
  await fs.writeFile(join(dir, 'afile'), 'x');
}

describe('engine volumes: the service container create/rm call', { skip: SKIP }, () => {
  before(async () => {
    T = mkdtempSync(join(tmpdir(), 'h9l-vol-'));
    rootfs = join(T, 'rootfs');
    data = join(T, 'data');
    await makeRootfs(rootfs);
  });

  after(async () => {
    for (const m of mountsUnder(T).reverse()) execFileSync('umount', ['-l', m.path]);
    await fs.rm(T, { recursive: true, force: true });
  });

  test('copyUp copies owners, modes, xattrs and hard links, and symlinks as symlinks (never followed)', async () => {
    const target = join(T, 'copy1');
    await fs.mkdir(target);
    assert.equal(await copyUp(target, rootfs, '/data'), true);
    const root = await fs.stat(target);
    assert.equal(root.uid, 1234);
    assert.equal(root.gid, 5678);
    assert.equal(root.mode & 0o7777, 0o750);
    const file = await fs.stat(join(target, 'file'));
    assert.equal(await fs.readFile(join(target, 'file'), 'utf8'), 'image content\n');
    assert.deepEqual([file.uid, file.gid, file.mode & 0o7777], [1001, 1002, 0o640]);
    assert.equal((await fs.stat(join(target, 'hardlink'))).ino, file.ino, 'hard links stay links');
    assert.equal((await fs.stat(join(target, 'sub', 'suid'))).mode & 0o7777, 0o4755);
    assert.equal(getxattr(join(target, 'file'), 'trusted.h9l'), 'kept');
    const esc = await fs.lstat(join(target, 'escape'));
    assert.ok(esc.isSymbolicLink(), 'the symlink is copied as a symlink');
    assert.equal(await fs.readlink(join(target, 'escape')), '/etc/passwd');
    assert.equal(await fs.readlink(join(target, 'up')), '../../../../../../etc');
  });

  test('copyUp resolves the destination inside the rootfs: a symlink to /etc does not copy the host\'s /etc', async () => {
    const viaAlias = join(T, 'copy2');
    await fs.mkdir(viaAlias);
    assert.equal(await copyUp(viaAlias, rootfs, '/alias'), true);
    assert.ok((await fs.readdir(viaAlias)).includes('file'));
    const hostEtc = join(T, 'copy3');
    await fs.mkdir(hostEtc);
    assert.equal(await copyUp(hostEtc, rootfs, '/hostetc'), false, 'rootfs/etc does not exist: nothing to copy');
    assert.deepEqual(await fs.readdir(hostEtc), []);
    assert.equal(await copyUp(hostEtc, rootfs, '/data/up/shadow'), false);
    assert.deepEqual(await fs.readdir(hostEtc), []);
  });

  test('copyUp leaves a volume with content alone and refuses a file destination', async () => {
    const target = join(T, 'copy4');
    await fs.mkdir(target);
    await fs.writeFile(join(target, 'mine'), 'volume data');
    assert.equal(await copyUp(target, rootfs, '/data'), false);
    assert.deepEqual(await fs.readdir(target), ['mine']);
    await assert.rejects(copyUp(target, rootfs, '/afile'), (e: Error) => e instanceof InvalidParameterError && /cannot mount volume over existing file, file exists/.test(e.message));
  });

  test('prepareMounts: anonymous and named volumes, copy-up, nocopy; a volume in use is not removed; rm -v removes only anonymous ones', async () => {
    const s = await VolumeService.open(data);
    const st = await fs.stat(join(data, 'volumes'));
    assert.equal(st.mode & 0o777, 0o701, 'docker\'s mode for <data>/volumes');
    const p = await s.prepareMounts(ID1, [vol('/data'), vol('/named', 'h9l-named'), vol('/data2', 'h9l-nocopy', { noCopy: true }),
      { type: 'bind', destination: '/b', source: '/tmp', rw: true, propagation: 'rprivate' }], rootfs);
    assert.equal(p.mounts.length, 3, 'binds are not volumes');
    const anon = p.mounts.find((m) => m.destination === '/data')!;
    assert.match(anon.name, /^[0-9a-f]{64}$/);
    assert.equal(anon.anonymous, true);
    assert.equal(p.paths['/data'], join(data, 'volumes', anon.name, '_data'));
    assert.equal(await fs.readFile(join(p.paths['/data']!, 'file'), 'utf8'), 'image content\n');
    assert.equal((await fs.stat(join(data, 'volumes', anon.name))).mode & 0o777, 0o700, 'host users cannot reach the data');
    assert.deepEqual(await fs.readdir(p.paths['/named']!), [], 'nothing in the image at /named');
    // the named volume at /data2 is empty, yet nocopy keeps it so
    assert.deepEqual(await fs.readdir(p.paths['/data2']!), []);
    const info = await s.inspect(anon.name);
    assert.equal(info.Labels, null);
    assert.equal(info.Options, null);

    await assert.rejects(s.remove('h9l-named'), (e: Error) => e instanceof ConflictError && e.message === `remove h9l-named: volume is in use - [${ID1}]`);
    await assert.rejects(s.remove('h9l-named', { force: true }), ConflictError, 'force does not override in use (docker)');
    assert.deepEqual((await s.list({ dangling: ['true'] })).Volumes.map((v) => v.Name), []);
    const pr = await s.prune();
    assert.equal(pr.VolumesDeleted, null, 'prune leaves volumes in use');

    // a second container on the same named volume: its data is not copied over again
    await fs.writeFile(join(p.paths['/named']!, 'kept'), 'x');
    const p2 = await s.prepareMounts(ID2, [vol('/data', 'h9l-named')], rootfs);
    assert.deepEqual(await fs.readdir(p2.paths['/data']!), ['kept']);
    assert.deepEqual(s.usersOf('h9l-named').sort(), [ID1, ID2].sort());

    // a restart: the references are on disk
    const s2 = await VolumeService.open(data);
    await assert.rejects(s2.remove(anon.name), ConflictError);
    assert.deepEqual(s2.mountsOf(ID1).map((m) => m.destination).sort(), ['/data', '/data2', '/named']);

    await s2.releaseMounts(ID1, true);
    await assert.rejects(s2.inspect(anon.name), (e: Error) => e instanceof NotFoundError && e.message === `get ${anon.name}: no such volume`);
    await fs.access(p.paths['/named']!);
    assert.deepEqual(s2.usersOf('h9l-named'), [ID2]);
    assert.deepEqual(s2.usersOf('h9l-nocopy'), []);
    await s2.releaseMounts(ID2, false);
    await s2.remove('h9l-named');
    await s2.remove('h9l-nocopy');
    assert.deepEqual((await s2.list()).Volumes, []);
  });

  test('rm without -v keeps the anonymous volume (dangling); prune removes it with its size', async () => {
    const s = await VolumeService.open(data);
    const p = await s.prepareMounts(ID1, [vol('/data')], rootfs);
    const name = p.mounts[0]!.name;
    await s.releaseMounts(ID1, false);
    assert.deepEqual((await s.list({ dangling: ['true'] })).Volumes.map((v) => v.Name), [name]);
    const size = 'image content\n'.length + '#!/bin/sh\n'.length + '/etc/passwd'.length + '../../../../../../etc'.length;
    assert.deepEqual(await s.prune(), { VolumesDeleted: [name], SpaceReclaimed: size });
  });

  test('a failed prepareMounts drops its references and its anonymous volumes', async () => {
    const s = await VolumeService.open(data);
    await assert.rejects(s.prepareMounts(ID1, [vol('/data'), vol('/afile', 'h9l-fail')], rootfs), /cannot mount volume over existing file/);
    assert.deepEqual((await s.list()).Volumes.map((v) => v.Name), ['h9l-fail'], 'the anonymous volume is gone; the named one stays, unused');
    assert.deepEqual(s.usersOf('h9l-fail'), []);
    await s.remove('h9l-fail');
  });

  test('a tmpfs volume is mounted while in use, again after a restart, and unmounted when released', async () => {
    const s = await VolumeService.open(data);
    await s.create({ Name: 'h9l-tmpfs', DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=16m,uid=1000' } });
    const dataDir = join(data, 'volumes', 'h9l-tmpfs', '_data');
    assert.deepEqual(mountsUnder(dataDir), [], 'not mounted before use');
    await s.prepareMounts(ID1, [vol('/data', 'h9l-tmpfs')], rootfs);
    assert.deepEqual(mountsUnder(dataDir), [{ path: dataDir, fstype: 'tmpfs' }]);
    assert.equal((await fs.stat(join(dataDir, 'file'))).uid, 1001, 'copied up into the tmpfs');
    // a reboot lost the mount: open mounts it again for its user
    execFileSync('umount', [dataDir]);
    const s2 = await VolumeService.open(data);
    assert.deepEqual(mountsUnder(dataDir).map((m) => m.fstype), ['tmpfs']);
    await s2.releaseMounts(ID1, false);
    assert.deepEqual(mountsUnder(dataDir), [], 'unmounted when unused');
    await s2.remove('h9l-tmpfs');
  });

  test('--mount volume-opt/volume-label create the volume with them; a bad option or driver is docker\'s error and leaves nothing', async () => {
    const s = await VolumeService.open(data);
    const mp = parseMountSpec({ Type: 'volume', Source: 'h9l-mnt', Target: '/data', VolumeOptions: { Labels: { h9l: 'm' }, DriverConfig: { Name: 'local', Options: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } } } });
    const p = await s.prepareMounts(ID1, [mp], rootfs);
    const info = await s.inspect('h9l-mnt');
    assert.deepEqual(info.Labels, { h9l: 'm' });
    assert.deepEqual(info.Options, { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' });
    assert.deepEqual(mountsUnder(p.paths['/data']!).map((m) => m.fstype), ['tmpfs']);
    await s.releaseMounts(ID1, false);
    await s.remove('h9l-mnt');
    const badOpt = parseMountSpec({ Type: 'volume', Source: 'h9l-bad', Target: '/data', VolumeOptions: { DriverConfig: { Options: { foo: 'x' } } } });
    await assert.rejects(s.prepareMounts(ID1, [vol('/data')].concat(badOpt), rootfs), { message: 'create h9l-bad: invalid option: "foo"' });
    const badDriver = parseMountSpec({ Type: 'volume', Source: 'h9l-bad', Target: '/data', VolumeOptions: { DriverConfig: { Name: 'nfsplugin' } } });
    await assert.rejects(s.prepareMounts(ID1, [badDriver]), (e: Error) => e instanceof NotFoundError && e.message === 'error looking up volume plugin nfsplugin: plugin "nfsplugin" not found');
    assert.deepEqual((await s.list()).Volumes, [], 'the anonymous volume made before the failure is gone too');
  });

  test('a bind device volume: writes reach the device dir, and removing the volume never deletes through the mount', async () => {
    const dev = join(T, 'device');
    await fs.mkdir(dev);
    await fs.writeFile(join(dev, 'precious'), 'host data');
    const s = await VolumeService.open(data);
    await s.create({ Name: 'h9l-bind', DriverOpts: { type: 'none', o: 'bind', device: dev } });
    const p = await s.prepareMounts(ID1, [vol('/data', 'h9l-bind')], rootfs);
    assert.deepEqual(await fs.readdir(p.paths['/data']!), ['precious'], 'not empty: no copy-up');
    await fs.writeFile(join(p.paths['/data']!, 'new'), 'from the container');
    await s.releaseMounts(ID1, false);
    await s.remove('h9l-bind');
    assert.deepEqual((await fs.readdir(dev)).sort(), ['new', 'precious']);
    assert.deepEqual(mountsUnder(data), []);
  });

  test('reconcile drops the references of containers that no longer exist; open deletes a crash\'s leftovers', async () => {
    const s = await VolumeService.open(data);
    await s.prepareMounts(ID1, [vol('/x', 'h9l-stale')]);
    await s.prepareMounts(ID2, [vol('/x', 'h9l-live')]);
    await s.reconcile([ID2]);
    assert.deepEqual(s.usersOf('h9l-stale'), []);
    assert.deepEqual(s.usersOf('h9l-live'), [ID2]);
    await s.releaseMounts(ID2, false);
    await fs.mkdir(join(data, 'volumes', '.tmp-deadbeef', '_data'), { recursive: true });
    await fs.mkdir(join(data, 'volumes', '.rm-h9l-old-0000', '_data'), { recursive: true });
    const s2 = await VolumeService.open(data);
    assert.deepEqual((await fs.readdir(join(data, 'volumes'))).sort(), ['h9l-live', 'h9l-stale']);
    await s2.remove('h9l-live');
    await s2.remove('h9l-stale');
  });
});
