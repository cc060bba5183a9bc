// End to end: a 2-layer busybox image pushed to Debian's docker-registry on 127.0.0.1, made into
// bundles by `node dist/berth.js bundle create` and run by `node dist/berth-oci.js run --bundle`;
// `bundle rm` unmounts, unreferences the snapshots and removes the dir. Needs root and `npm run build`.
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { busyboxRootfs, oci, show, uniqueId, type CommandResult } from '../fixtures/busybox.ts';
import { berth as berthCli, stopDaemons } from '../fixtures/berth-cli.ts';
import { LocalRegistry, blob, gz, tarDir, tarOf } from '../fixtures/registry.ts';
import { MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_OCI_MANIFEST } from '../../src/image/registry/media.ts';
import { digestOf } from '../../src/image/store/digest.ts';
import { SnapshotStore } from '../../src/image/snapshot/index.ts';
import { unmountOverlay } from '../../src/image/bundle/overlay.ts';


const reg = new LocalRegistry();
let T = '';
let image = '';

function berth(args: string[]): Promise<CommandResult> {
  return berthCli(join(T, 'berth'), args);
}

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p === dir || p.startsWith(`${dir}/`));
}

const runOci = (bundle: string): Promise<CommandResult> => oci(['run', '--bundle', bundle, uniqueId('bb')], { root: join(T, 'oci') });

describe('berth bundle create / rm, run by berth-oci', { timeout: 180_000 }, () => {
  before(async () => {
    T = mkdtempSync(join(tmpdir(), 'berth-e2e-'));
    await reg.start();
    // layer 1: the busybox rootfs plus a file layer 2 deletes
    const rootfs = join(T, 'src-rootfs');
    await busyboxRootfs(rootfs);
    writeFileSync(join(rootfs, 'etc', 'old.txt'), 'deleted by layer 2\n');
    const tar1 = await tarDir(rootfs);
    rmSync(rootfs, { recursive: true, force: true });
    // layer 2: one new file and a whiteout of etc/old.txt
    const tar2 = await tarOf(async (w) => {
      await w.add({ path: 'etc/', type: 'dir', mode: 0o755 });
      await w.add({ path: 'etc/layer2.txt', type: 'file', mode: 0o644 }, Buffer.from('from layer 2\n'));
      await w.add({ path: 'etc/.wh.old.txt', type: 'file', mode: 0o644 }, Buffer.alloc(0));
    });
    const layers = [gz(tar1), gz(tar2)].map(blob);
    const cfg = blob(JSON.stringify({
      architecture: process.arch === 'x64' ? 'amd64' : process.arch, os: 'linux',
      config: { Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo hello from the image'], Env: ['PATH=/bin', 'GREETING=hi'], WorkingDir: '/tmp' },
      rootfs: { type: 'layers', diff_ids: [digestOf(tar1), digestOf(tar2)] }, history: [],
    }));
    const m = blob(JSON.stringify({
      schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST,
      config: { mediaType: MEDIA_TYPE_OCI_CONFIG, digest: cfg.digest, size: cfg.bytes.length },
      layers: layers.map((l) => ({ mediaType: MEDIA_TYPE_OCI_LAYER_GZIP, digest: l.digest, size: l.bytes.length })),
    }));
    for (const b of [...layers, cfg]) await reg.pushBlob('test/busybox', b);
    await reg.pushManifest('test/busybox', '1', m, MEDIA_TYPE_OCI_MANIFEST);
    image = `${reg.domain}/test/busybox:1`;
  });

  after(async () => {
    await stopDaemons(); // before the roots go: each berthd holds its root
    if (T) for (const p of mountsUnder(T).reverse()) await unmountOverlay(p).catch(() => undefined);
    await reg.stop();
    if (T) rmSync(T, { recursive: true, force: true });
  });

  const snapRoot = (): string => join(T, 'berth', 'snapshot');
  const snapDirs = (): string[] => readdirSync(join(snapRoot(), 'snapshots')).sort();

  it('pull prints the digest; bundle create mounts the layers and writes config.json; berth-oci runs it', async () => {
    const p = await berth(['pull', image]);
    assert.equal(p.code, 0, show(p));
    // docker's last lines: `Digest: sha256:…`, then the full name
    const lines = p.stdout.trim().split('\n');
    assert.match(lines.at(-3) ?? '', /^Digest: sha256:[0-9a-f]{64}$/);
    assert.equal(lines.at(-1), image);
    assert.equal(lines.at(-2), `Status: Downloaded newer image for ${image}`);

    const b1 = join(T, 'b1');
    const r = await berth(['bundle', 'create', image, b1]);
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(mountsUnder(b1), [join(b1, 'rootfs')]);
    const spec = JSON.parse(readFileSync(join(b1, 'config.json'), 'utf8'));
    assert.deepEqual(spec.process.args, ['/bin/sh', '-c', 'echo hello from the image']);
    assert.equal(spec.process.cwd, '/tmp');
    assert.ok(spec.process.env.includes('GREETING=hi'));
    assert.equal(spec.root.path, 'rootfs');
    const rec = JSON.parse(readFileSync(join(b1, '.berth', 'bundle.json'), 'utf8'));
    assert.equal(`Digest: ${rec.manifestDigest}`, lines.at(-3));
    assert.equal(rec.chainIds.length, 2);
    assert.equal(snapDirs().length, 2);

    const run = await runOci(b1);
    assert.equal(run.code, 0, show(run));
    assert.equal(run.stdout.trim(), 'hello from the image');
    // the whiteout hides layer 1's file, layer 2's file is there (seen through the mount)
    assert.ok(!existsSync(join(b1, 'rootfs', 'etc', 'old.txt')));
    assert.equal(readFileSync(join(b1, 'rootfs', 'etc', 'layer2.txt'), 'utf8'), 'from layer 2\n');
  });

  it('a second bundle reuses the snapshots; CMD override; files as the container sees them', async () => {
    const before = snapDirs().map((d) => statSync(join(snapRoot(), 'snapshots', d, 'fs')).ino);
    const b2 = join(T, 'b2');
    const r = await berth(['bundle', 'create', image, b2, '--', 'test ! -e /etc/old.txt && cat /etc/layer2.txt && pwd && echo override']);
    assert.equal(r.code, 0, show(r));
    assert.doesNotMatch(r.stderr, /pulling/);
    assert.deepEqual(snapDirs().map((d) => statSync(join(snapRoot(), 'snapshots', d, 'fs')).ino), before, 'snapshots not unpacked again');
    const snaps = await SnapshotStore.open(snapRoot());
    for (const s of await snaps.list()) assert.deepEqual(s.owners.sort(), [join(T, 'b1'), b2].sort());

    const run = await runOci(b2);
    assert.equal(run.code, 0, show(run));
    assert.equal(run.stdout, 'from layer 2\n/tmp\noverride\n');
    // writes go to the bundle's upper dir, not to the shared snapshots
    const w = await berth(['bundle', 'create', image, join(T, 'b3'), '--', 'echo x > /etc/layer2.txt && rm /bin/true']);
    assert.equal(w.code, 0, show(w));
    const run3 = await runOci(join(T, 'b3'));
    assert.equal(run3.code, 0, show(run3));
    assert.equal(readFileSync(join(T, 'b3', '.berth', 'upper', 'etc', 'layer2.txt'), 'utf8'), 'x\n');
    assert.equal(readFileSync(join(T, 'b1', 'rootfs', 'etc', 'layer2.txt'), 'utf8'), 'from layer 2\n');
    assert.ok(lstatSync(join(T, 'b3', '.berth', 'upper', 'bin', 'true')).isCharacterDevice(), 'the deletion is a whiteout in the upper dir');
    assert.ok(lstatSync(join(T, 'b1', 'rootfs', 'bin', 'true')).isSymbolicLink());
  });

  it('errors: not-empty dir, unknown image, rm of a non-bundle — each says what and where', async () => {
    const r1 = await berth(['bundle', 'create', image, join(T, 'b1')]);
    assert.equal(r1.code, 1, show(r1));
    assert.match(r1.stderr, new RegExp(`bundle ${join(T, 'b1')}: exists and is not empty`));
    const r2 = await berth(['bundle', 'create', `${reg.domain}/test/nothere:1`, join(T, 'bx')]);
    assert.equal(r2.code, 1, show(r2));
    assert.match(r2.stderr, /^berth: .*nothere/m);
    assert.ok(!existsSync(join(T, 'bx')));
    const r3 = await berth(['bundle', 'rm', T]);
    assert.equal(r3.code, 1, show(r3));
    assert.match(r3.stderr, /not a berth bundle/);
  });

  it('bundle rm of a bundle a container still runs on fails and leaves it whole', async () => {
    const b4 = join(T, 'b4');
    const r = await berth(['bundle', 'create', image, b4, '--', 'exec sleep 60']);
    assert.equal(r.code, 0, show(r));
    const id = uniqueId('busy');
    const root = join(T, 'oci');
    const run = await oci(['run', '-d', '--bundle', b4, id], { root });
    assert.equal(run.code, 0, show(run));
    try {
      const rm = await berth(['bundle', 'rm', b4]);
      assert.equal(rm.code, 1, show(rm));
      assert.match(rm.stderr, new RegExp(`bundle ${b4}: .*busy.*container`));
      assert.deepEqual(mountsUnder(b4), [join(b4, 'rootfs')]);
      assert.ok(existsSync(join(b4, '.berth', 'bundle.json')));
    } finally {
      await oci(['kill', id, 'KILL'], { root });
      for (let i = 0; i < 50; i++) {
        const d = await oci(['delete', '--force', id], { root });
        if (d.code === 0) break;
        await new Promise((res) => setTimeout(res, 100));
      }
    }
  });

  it('bundle rm unmounts, unreferences and removes; the snapshots become collectable', async () => {
    for (const b of ['b1', 'b2', 'b3', 'b4']) {
      const r = await berth(['bundle', 'rm', join(T, b)]);
      assert.equal(r.code, 0, show(r));
      assert.ok(!existsSync(join(T, b)));
    }
    assert.deepEqual(mountsUnder(T), []);
    const snaps = await SnapshotStore.open(snapRoot());
    for (const s of await snaps.list()) assert.deepEqual(s.owners, []);
    assert.equal((await snaps.gc()).length, 2);
    assert.deepEqual(snapDirs(), []);
  });
});
