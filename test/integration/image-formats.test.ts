// Image formats end to end: images pushed to Debian's docker-registry on 127.0.0.1, pulled by
// `berth pull`, made into bundles by `berth bundle create` and run by berth-oci; what each
// format must give is checked from inside the running container where a user would look:
//   - zstd-compressed layers (compressed by the zstd CLI), OCI and Docker media types;
//   - uncompressed layers;
//   - an OCI index and a Docker manifest list (amd64, arm64, arm/v7): the host's platform by
//     default, another with --platform, a clear error naming the platforms for a missing one;
//   - a multi-layer image with deletions (whiteout, opaque dir), hardlinks, absolute and
//     relative symlinks, a device node, xattrs (user.* and a binary security.capability),
//     owners and a setuid file.
// Needs root, BERTH_CLI_SRC=1 or `npm run build`, and dist/berth-oci.js.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { berth as berthCli, stopDaemons } from '../fixtures/berth-cli.ts';
import { busyboxRootfs, oci, show, uniqueId, type CommandResult } from '../fixtures/busybox.ts';
import { buildImage, buildIndex, pushImage, type BuiltImage } from '../fixtures/images.ts';
import { LocalRegistry, tarDir, tarOf } from '../fixtures/registry.ts';
import { unmountOverlay } from '../../src/image/bundle/overlay.ts';
import { formatPlatform, hostPlatform, type Platform } from '../../src/image/registry/media.ts';
import { ImageRefs } from '../../src/image/store/refs.ts';
import type { TarWriter } from '../../src/image/tar/index.ts';

const reg = new LocalRegistry();
let T = '';
/** the busybox rootfs as a layer tar (with /arch saying the host's architecture) */
let baseTar: Buffer;
const host = hostPlatform();
const ENTRYPOINT = { Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo hello'], Env: ['PATH=/bin:/sbin:/usr/bin:/usr/sbin'] };

const rootOf = (name: string): string => join(T, 'roots', name);
const berth = (root: string, args: string[]): Promise<CommandResult> => berthCli(rootOf(root), args, { timeoutMs: 60_000 });

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p === dir || p.startsWith(`${dir}/`));
}

/** `berth bundle create IMAGE DIR -- SCRIPT` then `berth-oci run`: the container's result. */
async function runIn(root: string, image: string, script: string): Promise<{ bundle: string; run: CommandResult }> {
  const bundle = join(T, 'bundles', uniqueId('b'));
  const c = await berth(root, ['bundle', 'create', image, bundle, '--', script]);
  assert.equal(c.code, 0, show(c));
  const run = await oci(['run', '--bundle', bundle, uniqueId('fmt')], { root: join(T, 'oci') });
  return { bundle, run };
}

async function pullOk(root: string, args: string[]): Promise<CommandResult> {
  const p = await berth(root, ['pull', ...args]);
  assert.equal(p.code, 0, show(p));
  return p;
}

const resolveName = (root: string, name: string): Promise<string | undefined> => new ImageRefs(join(rootOf(root), 'refs.json')).resolve(name);

/** Layer tars of the stub images of other platforms, by platform: /arch saying which. */
const stubTars = new Map<string, Buffer>();

/** A one-layer stub image of another platform. */
function stubImage(platform: Platform, docker: boolean): BuiltImage {
  const tar = stubTars.get(formatPlatform(platform));
  if (!tar) throw new Error(`no stub layer for ${formatPlatform(platform)}`);
  return buildImage({ tars: [tar], platform, docker, config: ENTRYPOINT });
}

/** xattr `name` of `path` (not following symlinks), hex; null when it has none. */
function getxattr(path: string, name: string): string | null {
  const out = execFileSync('python3', ['-c', `
import os, sys
try: print(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).hex())
except OSError: print('none')
`, path, name]).toString().trim();
  return out === 'none' ? null : out;
}

// security.capability, VFS_CAP_REVISION_2 with the effective flag: cap_net_bind_service=ep (bit 10)
const CAP_NET_BIND_EP = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, ...new Array(12).fill(0)]);

describe('image formats: pulled, bundled and run', { timeout: 300_000 }, () => {
  before(async () => {
    T = mkdtempSync(join(tmpdir(), 'berth-formats-'));
    mkdirSync(join(T, 'bundles'));
    await reg.start();
    const rootfs = join(T, 'src-rootfs');
    await busyboxRootfs(rootfs);
    writeFileSync(join(rootfs, 'arch'), `${formatPlatform(host)}\n`);
    baseTar = await tarDir(rootfs);
    rmSync(rootfs, { recursive: true, force: true });
    for (const p of ['linux/arm64', 'linux/arm64/v8', 'linux/arm/v7']) {
      stubTars.set(p, await tarOf(async (w) => {
        await w.add({ path: 'arch', type: 'file', mode: 0o644 }, Buffer.from(`${p}\n`));
      }));
    }
  });

  after(async () => {
    await stopDaemons(); // before the roots go: each berthd holds its root
    if (T) {
      for (const b of existsSync(join(T, 'bundles')) ? readdirSync(join(T, 'bundles')) : []) {
        // bundles are removed by the tests; a failed test may leave some mounted
        for (const p of mountsUnder(join(T, 'bundles', b)).reverse()) await unmountOverlay(p).catch(() => undefined);
      }
    }
    await reg.stop();
    if (T) rmSync(T, { recursive: true, force: true });
  });

  it('zstd layers (OCI tar+zstd and docker rootfs.diff.tar.zstd), compressed by the zstd CLI, unpack and run', async () => {
    const top = await tarOf(async (w) => {
      await w.add({ path: 'etc/', type: 'dir', mode: 0o755 });
      await w.add({ path: 'etc/format', type: 'file', mode: 0o644 }, Buffer.from('zstd layer\n'));
    });
    for (const docker of [false, true]) {
      const img = buildImage({ tars: [baseTar, top], compression: 'zstd', docker, config: ENTRYPOINT });
      for (const l of img.layers) assert.deepEqual([...l.bytes.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd], 'the blobs are zstd frames');
      const repo = docker ? 'test/zstd-docker' : 'test/zstd';
      await pushImage(reg, repo, '1', img);
      const image = `${reg.domain}/${repo}:1`;
      const p = await pullOk('zstd', [image]);
      assert.match(p.stdout, new RegExp(`Digest: ${img.manifest.digest}`));
      const { bundle, run } = await runIn('zstd', image, 'cat /etc/format /arch && ls /bin/busybox');
      assert.equal(run.code, 0, show(run));
      assert.equal(run.stdout, `zstd layer\n${formatPlatform(host)}\n/bin/busybox\n`);
      const rm = await berth('zstd', ['bundle', 'rm', bundle]);
      assert.equal(rm.code, 0, show(rm));
    }
    // the snapshots record the zstd blobs they came from
    const metas = readdirSync(join(rootOf('zstd'), 'snapshot', 'snapshots')).map((d) => JSON.parse(readFileSync(join(rootOf('zstd'), 'snapshot', 'snapshots', d, 'meta.json'), 'utf8')));
    assert.equal(metas.length, 2, 'the OCI and Docker images have the same DiffIDs: one snapshot per layer');
    assert.ok(metas.every((m) => /zstd$/.test(m.mediaType)), JSON.stringify(metas.map((m) => m.mediaType)));
  });

  it('uncompressed layers (OCI tar) unpack and run', async () => {
    const top = await tarOf(async (w) => {
      await w.add({ path: 'etc/', type: 'dir', mode: 0o755 });
      await w.add({ path: 'etc/format', type: 'file', mode: 0o644 }, Buffer.from('plain tar layer\n'));
    });
    const img = buildImage({ tars: [baseTar, top], compression: 'none', config: ENTRYPOINT });
    assert.ok(img.layers[1]!.bytes.equals(top), 'the blob is the tar itself');
    await pushImage(reg, 'test/plain', '1', img);
    const image = `${reg.domain}/test/plain:1`;
    await pullOk('plain', [image]);
    const { bundle, run } = await runIn('plain', image, 'cat /etc/format');
    assert.equal(run.code, 0, show(run));
    assert.equal(run.stdout, 'plain tar layer\n');
    assert.equal((await berth('plain', ['bundle', 'rm', bundle])).code, 0);
  });

  for (const docker of [false, true]) {
    const kind = docker ? 'a Docker manifest list' : 'an OCI index';
    it(`${kind} (amd64, arm64, arm/v7): the host's platform by default, --platform picks another, a missing one names those there are`, async () => {
      const repo = docker ? 'test/multi-docker' : 'test/multi-oci';
      const arm64: Platform = docker ? { os: 'linux', architecture: 'arm64', variant: 'v8' } : { os: 'linux', architecture: 'arm64' };
      const platforms: Platform[] = [{ os: 'linux', architecture: 'amd64' }, arm64, { os: 'linux', architecture: 'arm', variant: 'v7' }];
      if (!platforms.some((p) => p.architecture === host.architecture)) throw new Error(`host ${formatPlatform(host)} not among the test's platforms`);
      // the host's entry is a complete busybox image; the others are one-file stubs
      const images = platforms.map((p) => (p.architecture === host.architecture
        ? buildImage({ tars: [baseTar], platform: p, docker, config: ENTRYPOINT })
        : stubImage(p, docker)));
      for (const img of images) await pushImage(reg, repo, undefined, img);
      const { index, mediaType } = buildIndex(images, docker);
      await reg.pushManifest(repo, 'multi', index, mediaType);
      const image = `${reg.domain}/${repo}:multi`;
      const hostImg = images.find((m) => m.platform.architecture === host.architecture)!;
      const root = docker ? 'multi-docker' : 'multi-oci';

      const p = await pullOk(root, [image]);
      assert.match(p.stdout, new RegExp(`^Digest: ${index.digest}$`, 'm'), 'docker prints the index digest');
      assert.equal(await resolveName(root, image), hostImg.manifest.digest, 'the name resolves to the host platform\'s manifest');
      const { bundle, run } = await runIn(root, image, 'cat /arch && echo ran');
      assert.equal(run.code, 0, show(run));
      assert.equal(run.stdout, `${formatPlatform(host)}\nran\n`);
      assert.equal((await berth(root, ['bundle', 'rm', bundle])).code, 0);

      // --platform: another entry (arm64 given without its default variant, arm with one)
      for (const [flag, want] of [['linux/arm64', images[1]!], ['linux/arm/v7', images[2]!]] as const) {
        const r = `${root}-${flag.replace(/\//g, '-')}`;
        await pullOk(r, ['--platform', flag, image]);
        assert.equal(await resolveName(r, image), want.manifest.digest, `--platform ${flag}`);
        const cfg = JSON.parse(want.config.bytes.toString());
        assert.equal(cfg.architecture, flag.split('/')[1]);
        assert.ok(existsSync(join(rootOf(r), 'content', 'blobs', 'sha256', want.layers[0]!.digest.slice(7))), 'the stub\'s layer was fetched');
        assert.ok(!existsSync(join(rootOf(r), 'content', 'blobs', 'sha256', hostImg.layers[0]!.digest.slice(7))), 'not the host\'s');
      }

      // a platform the index lacks: a clear error, nothing tagged
      const miss = await berth(`${root}-s390x`, ['pull', '--platform', 'linux/s390x', image]);
      assert.equal(miss.code, 1, show(miss));
      assert.match(miss.stderr, /^berth: no manifest for platform linux\/s390x in the index \(it has: linux\/amd64, linux\/arm64, linux\/arm\/v7\)$/m);
      assert.equal(await resolveName(`${root}-s390x`, image), undefined);
      const bad = await berth(`${root}-s390x`, ['pull', '--platform', 'linux', image]);
      assert.equal(bad.code, 2, show(bad));
      assert.match(bad.stderr, /--platform: invalid platform "linux": want os\/arch\[\/variant\]/);
    });
  }

  it('a multi-layer image: whiteout, opaque dir, hardlinks, symlinks, device node, xattrs, owners, setuid — as the container sees them', async () => {
    const T0 = 1_700_000_000;
    const l1 = await tarOf(async (w: TarWriter) => {
      await w.add({ path: 'etc/', type: 'dir', mode: 0o755 });
      await w.add({ path: 'etc/gone.txt', type: 'file', mode: 0o644 }, Buffer.from('deleted by layer 2\n'));
      await w.add({ path: 'opt/', type: 'dir', mode: 0o755 });
      await w.add({ path: 'opt/dir/', type: 'dir', mode: 0o755 });
      await w.add({ path: 'opt/dir/a', type: 'file' }, Buffer.from('a\n'));
      await w.add({ path: 'opt/dir/sub/', type: 'dir' });
      await w.add({ path: 'opt/dir/sub/b', type: 'file' }, Buffer.from('b\n'));
      await w.add({ path: 'data/', type: 'dir', mode: 0o755 });
      // 0644: the bundle's config gives root runc's default capabilities, without CAP_DAC_OVERRIDE
      await w.add({ path: 'data/orig', type: 'file', mode: 0o644, uid: 1000, gid: 1000, mtime: T0 }, Buffer.from('linked content\n'));
      await w.add({ path: 'data/hl', type: 'hardlink', linkname: 'data/orig' });
      await w.add({ path: 'links/', type: 'dir', mode: 0o755 });
      await w.add({ path: 'links/abs', type: 'symlink', linkname: '/data/orig' });
      await w.add({ path: 'links/rel', type: 'symlink', linkname: '../data/orig' });
      await w.add({ path: 'links/dirlink', type: 'symlink', linkname: '/opt/dir' });
      await w.add({ path: 'nodes/', type: 'dir', mode: 0o755 });
      await w.add({ path: 'nodes/zero', type: 'char', mode: 0o666, devmajor: 1, devminor: 5 });
      await w.add({ path: 'nodes/fifo', type: 'fifo', mode: 0o600 });
      await w.add({ path: 'bin/', type: 'dir', mode: 0o755 });
      await w.add({ path: 'bin/suid', type: 'file', mode: 0o4755, uid: 0, gid: 0 }, Buffer.from('#!/bin/sh\nid -u\n'));
      await w.add({ path: 'bin/sgid', type: 'file', mode: 0o2755, uid: 0, gid: 50 }, Buffer.from('#!/bin/sh\n'));
      await w.add({ path: 'bin/capped', type: 'file', mode: 0o755, xattrs: { 'security.capability': CAP_NET_BIND_EP, 'user.berth': 'hello' } }, Buffer.from('#!/bin/sh\n'));
    });
    const l2 = await tarOf(async (w: TarWriter) => {
      await w.add({ path: 'etc/', type: 'dir', mode: 0o755 });
      await w.add({ path: 'etc/.wh.gone.txt', type: 'file' }, Buffer.alloc(0));
      await w.add({ path: 'opt/dir/', type: 'dir', mode: 0o755 });
      await w.add({ path: 'opt/dir/.wh..wh..opq', type: 'file' }, Buffer.alloc(0));
      await w.add({ path: 'opt/dir/c', type: 'file' }, Buffer.from('c\n'));
      await w.add({ path: 'data/', type: 'dir', mode: 0o755 });
      await w.add({ path: 'data/l2', type: 'file', mode: 0o600, uid: 65534, gid: 65534 }, Buffer.from('layer 2\n'));
      await w.add({ path: 'data/l2-hl', type: 'hardlink', linkname: 'data/l2' });
    });
    const img = buildImage({ tars: [baseTar, l1, l2], config: ENTRYPOINT });
    await pushImage(reg, 'test/features', '1', img);
    const image = `${reg.domain}/test/features:1`;
    await pullOk('features', [image]);
    const script = [
      'test ! -e /etc/gone.txt && echo "whiteout: gone"',
      'echo "opaque: $(cd /opt/dir && ls -A | tr "\\n" " ")"',
      'stat -c "hardlink: %h %i" /data/orig /data/hl /data/l2 /data/l2-hl',
      'echo "hl content: $(cat /data/hl)"',
      'echo "abs: $(readlink /links/abs) $(cat /links/abs)"',
      'echo "rel: $(readlink /links/rel) $(cat /links/rel)"',
      'echo "dirlink: $(ls /links/dirlink/)"',
      'stat -c "node: %n %F %t:%T %a %U" /nodes/zero /nodes/fifo',
      'ls -l /bin/suid /bin/sgid | cut -c1-10',
      'stat -c "owner: %n %u:%g %a" /data/orig /data/l2 /bin/suid',
    ].join('; ');
    const { bundle, run } = await runIn('features', image, script);
    assert.equal(run.code, 0, show(run));
    const lines = run.stdout.trim().split('\n');
    const hl = lines.filter((l) => l.startsWith('hardlink: ')).map((l) => l.split(' '));
    assert.equal(hl.length, 4, run.stdout);
    assert.deepEqual(hl.map((f) => f[1]), ['2', '2', '2', '2'], 'link counts');
    assert.equal(hl[0]![2], hl[1]![2], 'data/orig and data/hl are one inode');
    assert.equal(hl[2]![2], hl[3]![2], 'data/l2 and data/l2-hl are one inode');
    assert.notEqual(hl[0]![2], hl[2]![2]);
    assert.deepEqual(lines.filter((l) => !l.startsWith('hardlink: ')), [
      'whiteout: gone',
      'opaque: c ',
      'hl content: linked content',
      'abs: /data/orig linked content',
      'rel: ../data/orig linked content',
      'dirlink: c',
      'node: /nodes/zero character special file 1:5 666 root',
      'node: /nodes/fifo fifo 0:0 600 root',
      '-rwxr-sr-x',
      '-rwsr-xr-x',
      'owner: /data/orig 1000:1000 644',
      'owner: /data/l2 65534:65534 600',
      'owner: /bin/suid 0:0 4755',
    ]);
    // busybox has no getfattr / getcap: the xattrs are read on the host through the bundle's overlay
    const capped = join(bundle, 'rootfs', 'bin', 'capped');
    assert.equal(getxattr(capped, 'user.berth'), Buffer.from('hello').toString('hex'));
    assert.equal(getxattr(capped, 'security.capability'), CAP_NET_BIND_EP.toString('hex'));
    assert.equal(getxattr(join(bundle, 'rootfs', 'data', 'orig'), 'user.berth'), null);
    const rm = await berth('features', ['bundle', 'rm', bundle]);
    assert.equal(rm.code, 0, show(rm));
    assert.deepEqual(mountsUnder(join(T, 'bundles')), []);
  });
});
