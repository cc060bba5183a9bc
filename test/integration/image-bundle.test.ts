// Bundles from images (src/image/bundle): overlay mounts through berth-init's overlay_mount/umount
// records (new mount API, one lowerdir+ per layer) and config.json generation from an image config
// (OCI image-spec conversion.md). Needs root.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { mountOverlay, unmountOverlay, overlayMountPlan } from '../../src/image/bundle/overlay.ts';
import { specFromImage, parseImageConfig, DEFAULT_PATH, VOLUMES_ANNOTATION } from '../../src/image/bundle/config.ts';
import { runNative, S_IFCHR } from '../../src/image/unpack/native.ts';

const temps: string[] = [];
const mounted = new Set<string>();
function tempDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `berth-bundle-${tag}-`));
  temps.push(d);
  return d;
}
after(async () => {
  for (const m of mounted) await unmountOverlay(m).catch(() => {});
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

function isMountPoint(p: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === p);
}

function overlayDirs(root: string, nLowers: number): { target: string; upper: string; work: string; lowers: string[] } {
  const lowers: string[] = [];
  for (let i = 0; i < nLowers; i++) {
    const d = join(root, `l${i}`);
    mkdirSync(d);
    lowers.push(d);
  }
  const [target, upper, work] = ['merged', 'upper', 'work'].map((n) => join(root, n));
  for (const d of [target!, upper!, work!]) mkdirSync(d);
  return { target: target!, upper: upper!, work: work!, lowers };
}

test('overlay: three layers bottom-first, shadowing, a whiteout, copy-up into upper, unmount', async () => {
  const root = tempDir('ovl');
  const { target, upper, work, lowers } = overlayDirs(root, 3);
  const [l0, l1, l2] = lowers as [string, string, string];
  writeFileSync(join(l0, 'a'), 'from l0');
  writeFileSync(join(l0, 'b'), 'from l0');
  writeFileSync(join(l0, 'gone'), 'deleted by l2');
  mkdirSync(join(l0, 'dir'));
  writeFileSync(join(l0, 'dir', 'x'), 'x0');
  writeFileSync(join(l1, 'a'), 'from l1');
  writeFileSync(join(l1, 'b'), 'from l1');
  writeFileSync(join(l2, 'b'), 'from l2');
  mkdirSync(join(l2, 'dir'));
  writeFileSync(join(l2, 'dir', 'y'), 'y2');
  // an overlay whiteout: a 0:0 character device, made by berth-init's mknod_at record
  await runNative(l2, [{ op: 'mknod_at', rel: 'gone', mode: S_IFCHR | 0o644, dev: 0n, uid: 0, gid: 0, mtime: 0 }], 'whiteout');
  assert.ok(lstatSync(join(l2, 'gone')).isCharacterDevice());

  // the kernel gets the top-most first
  assert.deepEqual(overlayMountPlan(target, upper, work, lowers).records, [
    { op: 'overlay_mount', args: [target, upper, work, l2, l1, l0] },
    { op: 'done', args: [] },
  ]);
  await mountOverlay(target, upper, work, lowers);
  mounted.add(target);
  assert.ok(isMountPoint(target), 'the overlay is visible in the host mount namespace');

  assert.equal(readFileSync(join(target, 'a'), 'utf8'), 'from l1');
  assert.equal(readFileSync(join(target, 'b'), 'utf8'), 'from l2');
  assert.equal(existsSync(join(target, 'gone')), false, 'the whiteout hides l0/gone');
  assert.deepEqual(readdirSync(join(target, 'dir')).sort(), ['x', 'y'], 'directories merge');
  assert.deepEqual(readdirSync(target).sort(), ['a', 'b', 'dir']);

  writeFileSync(join(target, 'a'), 'written');
  writeFileSync(join(target, 'new'), 'new file');
  assert.equal(readFileSync(join(upper, 'a'), 'utf8'), 'written', 'copy-up lands in upper');
  assert.equal(readFileSync(join(upper, 'new'), 'utf8'), 'new file');
  assert.equal(readFileSync(join(l1, 'a'), 'utf8'), 'from l1', 'the lower layer is untouched');

  await unmountOverlay(target);
  mounted.delete(target);
  assert.equal(isMountPoint(target), false);
  assert.deepEqual(readdirSync(target), []);
});

test('overlay: 100 layers mount (lowerdir+ is not capped by the mount data page)', async () => {
  // long layer paths, as a store's are: 100 × ~80 bytes is well over mount(2)'s 4 KiB
  const root = tempDir('ovl100');
  const base = join(root, 'layers-' + 'x'.repeat(40));
  mkdirSync(base);
  const { target, upper, work } = overlayDirs(root, 0);
  const lowers: string[] = [];
  for (let i = 0; i < 100; i++) {
    const d = join(base, `sha256-${String(i).padStart(3, '0')}-${'0'.repeat(20)}`);
    mkdirSync(d);
    writeFileSync(join(d, `f${i}`), String(i));
    writeFileSync(join(d, 'top'), String(i));
    lowers.push(d);
  }
  assert.ok(lowers.join(':').length > 4096);
  await mountOverlay(target, upper, work, lowers);
  mounted.add(target);
  assert.equal(readdirSync(target).length, 101);
  assert.equal(readFileSync(join(target, 'top'), 'utf8'), '99', 'the last layer given is the top-most');
  assert.equal(readFileSync(join(target, 'f0'), 'utf8'), '0');
  await unmountOverlay(target);
  mounted.delete(target);
  assert.equal(isMountPoint(target), false);
});

test('overlay: errors name the step; busy unmount fails clearly', async () => {
  const root = tempDir('ovlerr');
  const { target, upper, work, lowers } = overlayDirs(root, 1);
  await assert.rejects(mountOverlay(target, upper, work, [join(root, 'missing')]), /lowerdir\+=.*missing/);
  await assert.rejects(mountOverlay(target, upper, work, []), /at least one lower/);
  await assert.rejects(mountOverlay('relative', upper, work, lowers), /absolute/);
  assert.equal(isMountPoint(target), false);

  await mountOverlay(target, upper, work, lowers);
  mounted.add(target);
  const fd = openSync(join(target, 'held'), 'w');
  try {
    await assert.rejects(unmountOverlay(target), /umount.*(busy|in use)/i);
    assert.ok(isMountPoint(target));
  } finally {
    closeSync(fd);
  }
  await unmountOverlay(target);
  mounted.delete(target);
  await assert.rejects(unmountOverlay(target), /umount/);
});

const IMAGE = {
  created: '2024-01-02T03:04:05Z',
  author: 'someone',
  architecture: 'amd64',
  os: 'linux',
  config: {
    Entrypoint: ['/bin/entry', '--flag'],
    Cmd: ['serve', '--port', '80'],
    Env: ['FOO=bar', 'PATH=/opt/bin:/usr/bin'],
    WorkingDir: '/srv',
    User: '1000:1001',
    ExposedPorts: { '80/tcp': {}, '53/udp': {} },
    Volumes: { '/data': {}, '/cache': {} },
    StopSignal: 'SIGQUIT',
    Labels: { 'com.example.x': 'y', 'org.opencontainers.image.author': 'label wins' },
  },
  rootfs: { type: 'layers', diff_ids: [] },
};

test('specFromImage: entrypoint + cmd, args override cmd, env, workdir, annotations', () => {
  const s = specFromImage(IMAGE);
  assert.deepEqual(s.process!.args, ['/bin/entry', '--flag', 'serve', '--port', '80']);
  assert.equal(s.process!.terminal, false);
  assert.deepEqual(s.process!.env, ['FOO=bar', 'PATH=/opt/bin:/usr/bin'], 'the image PATH replaces the default');
  assert.equal(s.process!.cwd, '/srv');
  assert.deepEqual(s.process!.user, { uid: 1000, gid: 1001 });
  assert.deepEqual(s.root, { path: 'rootfs', readonly: false });
  assert.equal(s.hostname, 'berth');
  assert.deepEqual(s.annotations, {
    'org.opencontainers.image.os': 'linux',
    'org.opencontainers.image.architecture': 'amd64',
    'org.opencontainers.image.author': 'label wins',
    'org.opencontainers.image.created': '2024-01-02T03:04:05Z',
    'org.opencontainers.image.stopSignal': 'SIGQUIT',
    'org.opencontainers.image.exposedPorts': '80/tcp,53/udp',
    [VOLUMES_ANNOTATION]: '/data,/cache',
    'com.example.x': 'y',
  });

  assert.deepEqual(specFromImage(IMAGE, { args: ['sh', '-c', 'id'] }).process!.args, ['/bin/entry', '--flag', 'sh', '-c', 'id']);
  const noEntry = { config: { Cmd: ['/bin/sh'], Env: ['A=1'] } };
  assert.deepEqual(specFromImage(noEntry).process!.args, ['/bin/sh']);
  assert.deepEqual(specFromImage(noEntry, { args: ['/bin/true'] }).process!.args, ['/bin/true']);
  assert.deepEqual(specFromImage(noEntry).process!.env, [DEFAULT_PATH, 'A=1'], 'default PATH when the image sets none; no TERM');
  assert.equal(specFromImage(noEntry).process!.cwd, '/');
  assert.deepEqual(specFromImage(noEntry).process!.user, { uid: 0, gid: 0 });
  assert.equal(specFromImage(noEntry).annotations, undefined);
  assert.equal(specFromImage(noEntry, { hostname: 'box' }).hostname, 'box');
  assert.throws(() => specFromImage({ config: {} }), /no command/);
});

test('specFromImage: user names from the rootfs /etc/passwd and /etc/group', () => {
  const rootfs = tempDir('rootfs');
  mkdirSync(join(rootfs, 'etc'));
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n# comment\nwww:x:33:34:www:/var/www:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n');
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\nwww:x:34:\nstaff:x:50:app,www\naudio:x:29:app\napp:x:1000:\n');
  const user = (u: string) => specFromImage({ config: { Cmd: ['x'], User: u } }, { rootfs }).process!.user;
  assert.deepEqual(user('app'), { uid: 1000, gid: 1000, additionalGids: [50, 29] });
  assert.deepEqual(user('www'), { uid: 33, gid: 34, additionalGids: [50] });
  assert.deepEqual(user('app:staff'), { uid: 1000, gid: 50 }, 'no additional groups when a group is given');
  assert.deepEqual(user('www:7'), { uid: 33, gid: 7 });
  assert.deepEqual(user('1000'), { uid: 1000, gid: 1000 }, 'a numeric uid takes its gid from /etc/passwd');
  assert.deepEqual(user('4242'), { uid: 4242, gid: 0 });
  assert.deepEqual(user('5:audio'), { uid: 5, gid: 29 });
  assert.throws(() => user('nobody'), /user "nobody" is not in .*etc\/passwd/);
  assert.throws(() => user('app:nogroup'), /group "nogroup" is not in .*etc\/group/);
  assert.throws(() => user('app:'), /user\[:group\]/);
  assert.throws(() => specFromImage({ config: { Cmd: ['x'], User: 'app' } }), /no rootfs given/);

  // an image's /etc/passwd that is a symlink is not followed out of the rootfs
  const evil = tempDir('evil');
  mkdirSync(join(evil, 'etc'));
  symlinkSync('/etc/passwd', join(evil, 'etc/passwd'));
  assert.throws(() => specFromImage({ config: { Cmd: ['x'], User: 'root' } }, { rootfs: evil }), /symlink/);
});

test('specFromImage: the image config shape is checked, errors name the JSON path', () => {
  assert.throws(() => parseImageConfig('x'), /\$ must be an object/);
  assert.throws(() => parseImageConfig({ config: [] }), /\$\.config must be an object/);
  assert.throws(() => parseImageConfig({ config: { Env: ['A=1', 2] } }), /\$\.config\.Env\[1\] must be a string/);
  assert.throws(() => parseImageConfig({ config: { Env: ['NOEQUALS'] } }), /\$\.config\.Env\[0\] is not NAME=VALUE/);
  assert.throws(() => parseImageConfig({ config: { Cmd: 'sh' } }), /\$\.config\.Cmd must be an array of strings or null/);
  assert.throws(() => parseImageConfig({ config: { Labels: { a: 1 } } }), /\$\.config\.Labels\["a"\] must be a string/);
  assert.throws(() => parseImageConfig({ config: { ExposedPorts: { '80/tcp': true } } }), /\$\.config\.ExposedPorts\["80\/tcp"\] must be an object/);
  assert.throws(() => parseImageConfig({ config: { WorkingDir: 'rel' } }), /WorkingDir must be an absolute path/);
  assert.throws(() => parseImageConfig({ os: 5 }), /\$\.os must be a string/);
  assert.throws(() => parseImageConfig({ 'os.features': 'x' }), /\$\["os\.features"\] must be an array/);
  assert.doesNotThrow(() => parseImageConfig({ config: { Entrypoint: null, Cmd: null, Labels: null, Volumes: null } }));
});
