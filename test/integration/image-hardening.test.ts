// Hardening of the image side as a user meets it (berth issue 8):
//  - a digest name only ever resolves to the content of that digest: `load` refuses an archive
//    whose RepoTags carry a digest reference, `tag` refuses a digest target, and a refs.json
//    from an older berth with such a name pointing elsewhere is not trusted;
//  - the data root, its snapshots and a bundle's rootfs are out of other users' reach, so
//    nobody can run an image's setuid-root program through a host path; containers still run;
//  - image IDs (`sha256:<id>`, bare, short) find local images and are never sent to a registry.
// Needs root (bundles mount overlays; `setpriv` to act as nobody). Runs the CLI from source.
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { busyboxRootfs, oci, runCommand, show, uniqueId, type CommandResult } from '../fixtures/busybox.ts';
import { berth as berthCli, stopDaemons } from '../fixtures/berth-cli.ts';
import { LocalRegistry, blob, gz, tarDir, tarOf, type Blob } from '../fixtures/registry.ts';
import { MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_OCI_MANIFEST } from '../../src/image/registry/media.ts';
import { digestOf, digestHex, type Digest } from '../../src/image/store/digest.ts';
import { unmountOverlay } from '../../src/image/bundle/overlay.ts';

process.env.BERTH_CLI_SRC ??= '1';

const reg = new LocalRegistry();
let T = '';
const root = (): string => join(T, 'berth');
const berth = (args: string[], r = root()): Promise<CommandResult> => berthCli(r, args);
async function ok(args: string[], r = root()): Promise<string> {
  const res = await berth(args, r);
  assert.equal(res.code, 0, show(res));
  return res.stdout;
}
/**
 * Runs argv as nobody (uid and gid 65534, no supplementary groups). Through sh: setpriv's own
 * execvp of a path was seen to succeed where nobody's did not.
 */
const asNobody = (argv: string[]): Promise<CommandResult> =>
  runCommand('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '/bin/sh', '-c', 'exec "$@"', 'sh', ...argv], { label: `nobody: ${argv.join(' ')}` });

interface TestImage { name: string; manifest: Blob; config: Blob; layer: Blob; tar: Buffer }

/** Pushes a one-layer image of `tar` as `repo:tag`. */
async function pushImage(repo: string, tag: string, tar: Buffer, extra: Record<string, unknown> = {}): Promise<TestImage> {
  const layer = blob(gz(tar));
  const config = blob(JSON.stringify({
    architecture: process.arch === 'x64' ? 'amd64' : process.arch, os: 'linux',
    rootfs: { type: 'layers', diff_ids: [digestOf(tar)] }, config: { Cmd: ['/bin/true'] }, ...extra,
  }));
  const manifest = blob(JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST,
    config: { mediaType: MEDIA_TYPE_OCI_CONFIG, digest: config.digest, size: config.bytes.length },
    layers: [{ mediaType: MEDIA_TYPE_OCI_LAYER_GZIP, digest: layer.digest, size: layer.bytes.length }],
  }));
  for (const b of [layer, config]) await reg.pushBlob(repo, b);
  await reg.pushManifest(repo, tag, manifest, MEDIA_TYPE_OCI_MANIFEST);
  return { name: `${reg.domain}/${repo}:${tag}`, manifest, config, layer, tar };
}

const fileTar = (path: string, text: string): Promise<Buffer> => tarOf(async (w) => {
  await w.add({ path: 'etc/', type: 'dir', mode: 0o755 });
  await w.add({ path, type: 'file', mode: 0o644 }, Buffer.from(text));
});

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p === dir || p.startsWith(`${dir}/`));
}

let A: TestImage;
let B: TestImage;
let S: TestImage;

describe('image hardening', { timeout: 300_000 }, () => {
  before(async () => {
    T = mkdtempSync(join(tmpdir(), 'berth-h8c-'));
    // as /var/lib is: anyone may walk through it, so only berth's own modes keep others out
    chmodSync(T, 0o755);
    await reg.start();
    A = await pushImage('h8c/a', '1', await fileTar('etc/which', 'image A\n'));
    B = await pushImage('h8c/b', '1', await fileTar('etc/which', 'image B\n'));
    // busybox plus a setuid-root copy of the host's id(1) (run through a host path it uses the host's loader)
    const rootfs = join(T, 'src-rootfs');
    await busyboxRootfs(rootfs);
    copyFileSync('/usr/bin/id', join(rootfs, 'bin', 'suid-id'));
    chmodSync(join(rootfs, 'bin', 'suid-id'), 0o4755);
    S = await pushImage('h8c/suid', '1', await tarDir(rootfs), { config: { Cmd: ['/bin/sh', '-c', 'echo hi'], Env: ['PATH=/bin'] } });
    rmSync(rootfs, { recursive: true, force: true });
    for (const img of [A, B, S]) await ok(['pull', '-q', img.name]);
  });

  after(async () => {
    await stopDaemons(); // before the roots go: each berthd holds its root
    if (T) for (const p of mountsUnder(T).reverse()) await unmountOverlay(p).catch(() => undefined);
    await reg.stop();
    if (T) rmSync(T, { recursive: true, force: true });
  });

  const refsText = (): string => readFileSync(join(root(), 'refs.json'), 'utf8');
  const digestRows = async (): Promise<string[]> =>
    (await ok(['images', '--digests', '--no-trunc', '--format', '{{.Repository}} {{.Digest}} {{.ID}}'])).trim().split('\n').sort();

  it('6: load refuses an archive whose RepoTags hold a digest reference (of another image), and records nothing', async () => {
    const evil = `${reg.domain}/h8c/b@${B.manifest.digest}`;
    const before = refsText();
    const rowsBefore = await digestRows();
    // a docker-archive of image A that claims B's digest name
    const archive = await tarOf(async (w) => {
      const file = async (path: string, data: Buffer): Promise<void> => w.add({ path, type: 'file', mode: 0o644, size: data.length }, data);
      await file('config.json', A.config.bytes);
      await file('layer.tar', A.tar);
      await file('manifest.json', Buffer.from(JSON.stringify([{ Config: 'config.json', RepoTags: [evil], Layers: ['layer.tar'] }])));
    });
    const path = join(T, 'evil.tar');
    writeFileSync(path, archive);
    const r = await berth(['load', '-i', path]);
    assert.equal(r.code, 1, show(r));
    assert.ok(r.stderr.includes(`manifest.json[0].RepoTags[0]: invalid tag "${evil}"`), show(r));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(refsText(), before, 'nothing recorded');
    assert.deepEqual(await digestRows(), rowsBefore);
    // and B's digest still names B
    const id = (await ok(['inspect', '--format', '{{.Id}}', evil])).trim();
    assert.equal(id, B.config.digest);
  });

  it('6: tag refuses a digest reference as its target', async () => {
    const r = await berth(['tag', A.name, `${reg.domain}/h8c/b@${B.manifest.digest}`]);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /refusing to create a tag with a digest reference/);
    const r2 = await berth(['tag', A.name, `${reg.domain}/h8c/x@${B.manifest.digest}`]);
    assert.equal(r2.code, 1, show(r2));
    assert.doesNotMatch(refsText(), /h8c\/x/);
  });

  it('6: a refs.json holding a digest name of another image (an older berth) is not trusted: images --digests, inspect, bundle create', async () => {
    const evil = `${reg.domain}/h8c/b@${B.manifest.digest}`;
    const doc = JSON.parse(refsText()) as { names: Record<string, string> };
    doc.names[evil] = A.manifest.digest; // B's digest name pointing at A
    writeFileSync(join(root(), 'refs.json'), JSON.stringify(doc));
    const rows = await digestRows();
    // B's digest is never shown against A's ID
    assert.ok(!rows.some((l) => l.includes(B.manifest.digest) && l.endsWith(A.config.digest)), rows.join('\n'));
    assert.ok(rows.includes(`${reg.domain}/h8c/b ${B.manifest.digest} ${B.config.digest}`), rows.join('\n'));
    assert.equal((await ok(['inspect', '--format', '{{.Id}}', evil])).trim(), B.config.digest);
    const bundle = join(T, 'b6');
    await ok(['bundle', 'create', evil, bundle]);
    try {
      assert.equal(readFileSync(join(bundle, 'rootfs', 'etc', 'which'), 'utf8'), 'image B\n');
    } finally {
      await ok(['bundle', 'rm', bundle]);
    }
    // the next write drops the untrusted name
    await ok(['tag', A.name, `${reg.domain}/h8c/a:again`]);
    assert.equal((JSON.parse(refsText()) as { names: Record<string, string> }).names[evil], undefined);
  });

  it('7: nobody cannot reach the data root, the snapshots or a bundle rootfs, so cannot run its setuid program; containers still run', async () => {
    const fresh = join(T, 'b7');
    const existing = join(T, 'b7-existing');
    mkdirSync(existing, { mode: 0o755 });
    chmodSync(existing, 0o755);
    await ok(['bundle', 'create', S.name, fresh]);
    await ok(['bundle', 'create', S.name, existing]);
    try {
      for (const b of [fresh, existing]) {
        const suid = join(b, 'rootfs', 'bin', 'suid-id');
        assert.equal(statSync(suid).mode & 0o4000, 0o4000, 'the image does have a setuid program');
        assert.equal(statSync(b).mode & 0o077, 0, `${b} is private`);
        assert.equal(statSync(join(b, '.berth')).mode & 0o777, 0o700);
        assert.equal(statSync(join(b, '.berth', 'work')).mode & 0o777, 0o700);
        const r = await asNobody([suid, '-u']);
        assert.notEqual(r.code, 0, `nobody ran ${suid}: ${show(r)}`);
        assert.doesNotMatch(r.stdout, /^0$/m);
        const ls = await asNobody(['ls', join(b, 'rootfs')]);
        assert.notEqual(ls.code, 0, show(ls));
      }
      assert.equal(statSync(root()).mode & 0o077, 0, 'the data root is private');
      for (const d of [root(), join(root(), 'snapshot'), join(root(), 'snapshot', 'snapshots')]) {
        const r = await asNobody(['ls', d]);
        assert.notEqual(r.code, 0, `nobody listed ${d}: ${show(r)}`);
      }
      // the snapshot's own copy of the program, by its host path
      const chain = digestHex(digestOf(S.tar) as Digest); // one layer: the chain ID is the DiffID
      const inSnapshot = join(root(), 'snapshot', 'snapshots', chain, 'fs', 'bin', 'suid-id');
      assert.equal(statSync(inSnapshot).mode & 0o4000, 0o4000);
      const r = await asNobody([inSnapshot, '-u']);
      assert.notEqual(r.code, 0, show(r));

      // the container's "/" is still open to its non-root users
      const spec = JSON.parse(readFileSync(join(fresh, 'config.json'), 'utf8'));
      spec.process.user = { uid: 65534, gid: 65534 };
      spec.process.args = ['/bin/sh', '-c', 'ls /bin >/dev/null && echo ran-as-$(id -u)'];
      writeFileSync(join(fresh, 'config.json'), JSON.stringify(spec));
      const run = await oci(['run', '--bundle', fresh, uniqueId('h7')], { root: join(T, 'oci') });
      assert.equal(run.code, 0, show(run));
      assert.equal(run.stdout.trim(), 'ran-as-65534');
    } finally {
      await ok(['bundle', 'rm', fresh]);
      await ok(['bundle', 'rm', existing]);
    }
  });

  it('7: a data root made with wider modes (an older berth) is made private when opened', async () => {
    const old = join(T, 'berth-old');
    for (const d of [old, join(old, 'snapshot'), join(old, 'snapshot', 'snapshots')]) {
      mkdirSync(d, { recursive: true });
      chmodSync(d, 0o755);
    }
    await ok(['images'], old);
    for (const d of [old, join(old, 'snapshot'), join(old, 'snapshot', 'snapshots')]) {
      assert.equal(statSync(d).mode & 0o777, 0o700, d);
    }
  });

  // last: it stops the registry, to show that no registry is asked
  it('15: bundle create by image ID (sha256:<id>, bare, short) works with no registry; pull of an ID is refused; an ambiguous prefix is an error', async () => {
    // enough images that two IDs share a first hex digit (pigeonhole: 17 distinct IDs)
    const ids = new Set<string>([A, B, S].map((i) => digestHex(i.config.digest)));
    const tarball = join(T, 'rootfs.tar');
    writeFileSync(tarball, await fileTar('etc/which', 'imported\n'));
    let shared: string | undefined;
    for (let i = 0; shared === undefined; i++) {
      assert.ok(i < 20);
      const id = (await ok(['import', '-m', `h15 ${i}`, tarball, `h8c/imported:${i}`])).trim();
      const hex = digestHex(id as Digest);
      if ([...ids].some((x) => x[0] === hex[0] && x !== hex)) shared = hex[0];
      ids.add(hex);
    }
    await reg.stop();

    const hex = digestHex(B.config.digest);
    for (const [n, arg] of [['full', `sha256:${hex}`], ['bare', hex], ['short', hex.slice(0, 12)]] as const) {
      const bundle = join(T, `b15-${n}`);
      const r = await berth(['bundle', 'create', arg, bundle]);
      assert.equal(r.code, 0, show(r));
      try {
        assert.doesNotMatch(r.stderr, /pulling/);
        assert.equal(readFileSync(join(bundle, 'rootfs', 'etc', 'which'), 'utf8'), 'image B\n');
        const rec = JSON.parse(readFileSync(join(bundle, '.berth', 'bundle.json'), 'utf8'));
        assert.equal(rec.manifestDigest, B.manifest.digest);
      } finally {
        await ok(['bundle', 'rm', bundle]);
      }
    }
    const p = await berth(['pull', `sha256:${hex}`]);
    assert.equal(p.code, 1, show(p));
    assert.match(p.stderr, /invalid repository name \(sha256:[0-9a-f]{64}\), cannot specify 64-byte hexadecimal strings/);

    const amb = await berth(['bundle', 'create', shared!, join(T, 'b15-amb')]);
    assert.equal(amb.code, 1, show(amb));
    assert.match(amb.stderr, new RegExp(`ambiguous image ID prefix "${shared}"`));
    // save by ID, and inspect by short ID, agree
    assert.equal((await ok(['inspect', '--format', '{{.Id}}', hex.slice(0, 12)])).trim(), B.config.digest);
    const saved = await berth(['save', '-o', join(T, 'by-id.tar'), hex.slice(0, 12)]);
    assert.equal(saved.code, 0, show(saved));
  });
});
