// Image archives, end to end through the `berth` CLI (from source: BERTH_CLI_SRC=1 is set here),
// with no registry: save → load into a fresh root keeps every digest and gives a bundle that
// runs; old docker-archives and gzip/zstd archives load; umoci and skopeo read what berth saves
// and berth loads what umoci builds; import makes a runnable image with its --change settings;
// export is the rootfs the container sees; hostile archives are refused and leave nothing.
// Needs root (overlay mounts, berth-oci) and dist/berth-oci.js.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { busyboxRootfs, oci, show, uniqueId, type CommandResult } from '../fixtures/busybox.ts';
import { berth as berthCli, berthArgv, stopDaemons } from '../fixtures/berth-cli.ts';
import { gz, tarDir, tarEntries, tarOf } from '../fixtures/tar.ts';
import { openStores } from '../../src/image/bundle/create.ts';
import { unmountOverlay } from '../../src/image/bundle/overlay.ts';
import { ingest } from '../../src/image/store/content.ts';
import { digestOf, type Digest } from '../../src/image/store/digest.ts';
import {
  MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_LAYER, MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_OCI_MANIFEST, hostPlatform,
} from '../../src/image/registry/media.ts';
import { readTar, type TarEntry } from '../../src/image/tar/index.ts';
import { readStoredImage } from '../../src/image/archive/image.ts';

process.env.BERTH_CLI_SRC = '1';

let T = '';
const IMAGE = 'localhost/test/archive:1';
const OLD_TEXT = 'deleted by layer 2\n';
const root = (name: string): string => join(T, name);
const berth = (r: string, args: string[]): Promise<CommandResult> => berthCli(root(r), args, { timeoutMs: 120_000 });

/** `berth --root ROOT ARGS` with stdin from `stdinFile` and stdout into `stdoutFile` (binary-safe). */
function berthFiles(r: string, args: string[], files: { stdin?: string; stdout?: string }): Promise<CommandResult> {
  const [cmd, ...pre] = berthArgv();
  const inFd = files.stdin ? openSync(files.stdin, 'r') : 'ignore';
  const outFd = files.stdout ? openSync(files.stdout, 'w') : 'pipe';
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, [...pre, '--root', root(r), ...args], { stdio: [inFd, outFd, 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const fd of [inFd, outFd]) if (typeof fd === 'number') closeSync(fd);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function sh(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}${r.error?.message ?? ''}`);
  return r.stdout;
}

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p === dir || p.startsWith(`${dir}/`));
}

/** Every entry of a tar, bodies read. */
async function entriesOf(tar: Buffer): Promise<(TarEntry & { data: Buffer })[]> {
  const out: (TarEntry & { data: Buffer })[] = [];
  for await (const e of readTar((async function* () { yield tar; })())) {
    const parts: Buffer[] = [];
    for await (const c of e.body()) parts.push(c);
    out.push({ ...e, data: Buffer.concat(parts) });
  }
  return out;
}

/** A tree as path → "type mode uid:gid sha|target", for comparing two unpackings. */
function treeOf(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(p);
      const meta = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
      if (st.isDirectory()) {
        out.set(r, `dir ${meta}`);
        walk(p, r);
      } else if (st.isSymbolicLink()) out.set(r, `symlink ${meta} ${readlinkSync(p)}`);
      else if (st.isFile()) out.set(r, `file ${meta} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
      else out.set(r, `other ${meta} ${st.rdev}`);
    }
  };
  walk(dir, '');
  return out;
}

/** What a root's stores hold: blob digests, ingests in progress, names. */
function residue(r: string): { blobs: string[]; ingests: string[]; refs: string } {
  const blobs = join(root(r), 'content', 'blobs', 'sha256');
  const ingests = join(root(r), 'content', 'ingest');
  const refs = join(root(r), 'refs.json');
  return {
    blobs: existsSync(blobs) ? readdirSync(blobs).sort() : [],
    ingests: existsSync(ingests) ? readdirSync(ingests).sort() : [],
    refs: existsSync(refs) ? readFileSync(refs, 'utf8') : '',
  };
}

const runOci = (bundle: string): Promise<CommandResult> => oci(['run', '--bundle', bundle, uniqueId('arc')], { root: join(T, 'oci') });

interface TestImage { manifest: Digest; config: Digest; layers: { tar: Buffer; blob: Buffer }[]; configBytes: Buffer }
let img: TestImage;

describe('image archives: save, load, import, export', { timeout: 600_000 }, () => {
  before(async () => {
    T = mkdtempSync(join(tmpdir(), 'berth-archive-'));
    // layer 1: busybox plus a file layer 2 deletes, a hardlinked pair and an xattr
    const src = join(T, 'src-rootfs');
    await busyboxRootfs(src);
    writeFileSync(join(src, 'etc', 'old.txt'), OLD_TEXT);
    writeFileSync(join(src, 'etc', 'hl-a'), 'linked\n');
    linkSync(join(src, 'etc', 'hl-a'), join(src, 'etc', 'hl-b'));
    const tar1 = await tarOf(async (w) => {
      for (const e of await entriesOf(await tarDir(src))) {
        if (e.path === 'etc/hl-b') await w.add({ path: 'etc/hl-b', type: 'hardlink', linkname: 'etc/hl-a' });
        else if (e.path === 'etc/passwd') await w.add({ ...e, xattrs: { 'user.berth': Buffer.from([0, 1, 2, 0xff]) } }, e.data);
        else await w.add(e, e.type === 'file' ? e.data : undefined);
      }
    });
    const tar2 = await tarEntries([
      [{ path: 'etc/', type: 'dir', mode: 0o755 }],
      [{ path: 'etc/layer2.txt', type: 'file', mode: 0o604, uid: 1000, gid: 1000 }, Buffer.from('from layer 2\n')],
      [{ path: 'etc/.wh.old.txt', type: 'file', mode: 0o644 }, Buffer.alloc(0)],
    ]);
    const layers = [{ tar: tar1, blob: gz(tar1) }, { tar: tar2, blob: tar2 }];
    const p = hostPlatform();
    const configBytes = Buffer.from(JSON.stringify({
      architecture: p.architecture, os: p.os,
      config: { Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo hello from the archive'], Env: ['PATH=/bin'], WorkingDir: '/tmp' },
      rootfs: { type: 'layers', diff_ids: [digestOf(tar1), digestOf(tar2)] }, history: [],
    }));
    const manifestBytes = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST,
      config: { mediaType: MEDIA_TYPE_OCI_CONFIG, digest: digestOf(configBytes), size: configBytes.length },
      layers: [
        { mediaType: MEDIA_TYPE_OCI_LAYER_GZIP, digest: digestOf(layers[0]!.blob), size: layers[0]!.blob.length },
        { mediaType: MEDIA_TYPE_OCI_LAYER, digest: digestOf(layers[1]!.blob), size: layers[1]!.blob.length },
      ],
    }));
    const stores = await openStores(root('a'));
    for (const b of [...layers.map((l) => l.blob), configBytes, manifestBytes]) {
      await ingest(stores.content, `test-${digestOf(b)}`, b, { size: b.length, digest: digestOf(b) });
    }
    await stores.refs.tag(IMAGE, digestOf(manifestBytes));
    img = { manifest: digestOf(manifestBytes), config: digestOf(configBytes), layers, configBytes };
  });

  after(async () => {
    await stopDaemons(); // before the roots go: each berthd holds its root
    if (!T) return;
    for (const p of mountsUnder(T).reverse()) await unmountOverlay(p).catch(() => undefined);
    rmSync(T, { recursive: true, force: true });
  });

  it('save writes docker 25\'s format: an OCI layout and a docker-archive, blobs as stored', async () => {
    const r = await berth('a', ['save', '-o', join(T, 'a.tar'), IMAGE]);
    assert.equal(r.code, 0, show(r));
    const entries = await entriesOf(readFileSync(join(T, 'a.tar')));
    const byPath = new Map(entries.map((e) => [e.path, e]));
    const hex = (d: string): string => d.slice('sha256:'.length);
    for (const d of [img.manifest, img.config, ...img.layers.map((l) => digestOf(l.blob))]) {
      const e = byPath.get(`blobs/sha256/${hex(d)}`);
      assert.ok(e, `blob ${d} saved`);
      assert.equal(digestOf(e.data), d);
    }
    assert.deepEqual(JSON.parse(byPath.get('oci-layout')!.data.toString()), { imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(byPath.get('index.json')!.data.toString());
    assert.equal(index.manifests.length, 1);
    assert.equal(index.manifests[0].digest, img.manifest);
    assert.deepEqual(index.manifests[0].annotations, { 'io.containerd.image.name': IMAGE, 'org.opencontainers.image.ref.name': '1' });
    assert.deepEqual(JSON.parse(byPath.get('manifest.json')!.data.toString()), [{
      Config: `blobs/sha256/${hex(img.config)}`, RepoTags: [IMAGE], Layers: img.layers.map((l) => `blobs/sha256/${hex(digestOf(l.blob))}`),
    }]);
    assert.deepEqual(JSON.parse(byPath.get('repositories')!.data.toString()), { 'localhost/test/archive': { 1: hex(digestOf(img.layers[1]!.blob)) } });
    // deterministic: the same images give the same bytes; to stdout as well as to -o
    const s = await berthFiles('a', ['image', 'save', IMAGE], { stdout: join(T, 'a2.tar') });
    assert.equal(s.code, 0, show(s));
    assert.ok(readFileSync(join(T, 'a.tar')).equals(readFileSync(join(T, 'a2.tar'))), 'save to stdout = save -o');
    // a repository without a tag is every tag of it (docker's rule); an unknown name is an error
    const none = await berth('a', ['save', '-o', join(T, 'x.tar'), 'localhost/test/nothere']);
    assert.equal(none.code, 1, show(none));
    assert.match(none.stderr, /no such image: localhost\/test\/nothere/);
    assert.ok(!existsSync(join(T, 'x.tar')));
    assert.deepEqual(readdirSync(T).filter((n) => n.includes('.tmp-')), [], 'no temp file left');
    // a tar is not written to a terminal (run on a pty by script(1))
    const argv = [...berthArgv(), '--root', root('a'), 'save', IMAGE].map((a) => `'${a}'`).join(' ');
    const tty = spawnSync('script', ['-qec', argv, '/dev/null'], { encoding: 'utf8', env: process.env });
    assert.match(tty.stdout, /berth: cowardly refusing to save to a terminal\. Use the -o flag or redirect/);
    assert.ok(tty.stdout.length < 400, 'nothing but the refusal on the terminal');
  });

  it('load into a fresh root keeps every digest; the image makes a bundle that runs', async () => {
    const r = await berth('b', ['load', '-i', join(T, 'a.tar')]);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, `Loaded image: ${IMAGE}\n`);
    const b = await openStores(root('b'));
    assert.equal(await b.refs.resolve(IMAGE), img.manifest);
    assert.deepEqual(residue('b').blobs, residue('a').blobs);
    assert.deepEqual(residue('b').ingests, []);

    const bundle = join(T, 'bundle-b');
    const c = await berth('b', ['bundle', 'create', IMAGE, bundle]);
    assert.equal(c.code, 0, show(c));
    const run = await runOci(bundle);
    assert.equal(run.code, 0, show(run));
    assert.equal(run.stdout.trim(), 'hello from the archive');
    assert.ok(!existsSync(join(bundle, 'rootfs', 'etc', 'old.txt')));

    // from stdin, gzip- and zstd-compressed, as docker accepts
    writeFileSync(join(T, 'a.tar.gz'), gz(readFileSync(join(T, 'a.tar'))));
    sh('zstd', ['-q', '-f', join(T, 'a.tar'), '-o', join(T, 'a.tar.zst')]);
    for (const [i, f] of ['a.tar.gz', 'a.tar.zst'].entries()) {
      const l = await berthFiles(`c${i}`, ['image', 'load', '-q'], { stdin: join(T, f) });
      assert.equal(l.code, 0, show(l));
      assert.equal(l.stdout, `Loaded image: ${IMAGE}\n`);
      assert.deepEqual(residue(`c${i}`).blobs, residue('a').blobs, f);
    }
  });

  it('an old-format docker-archive (<id>/layer.tar, <hex>.json, a shared layer as a symlink) loads and runs', async () => {
    const [l1, l2] = img.layers;
    const id1 = 'a'.repeat(64);
    const id2 = 'b'.repeat(64);
    const id3 = 'c'.repeat(64);
    const cfgName = `${img.config.slice(7)}.json`;
    // a second image sharing layer 1 (a symlink, as docker save wrote them), with one layer only
    const cfg2 = Buffer.from(JSON.stringify({ ...JSON.parse(img.configBytes.toString()), rootfs: { type: 'layers', diff_ids: [digestOf(l1!.tar)] } }));
    const archive = await tarEntries([
      [{ path: `${id1}/`, type: 'dir' }],
      [{ path: `${id1}/VERSION`, type: 'file' }, Buffer.from('1.0')],
      [{ path: `${id1}/json`, type: 'file' }, Buffer.from(JSON.stringify({ id: id1 }))],
      [{ path: `${id1}/layer.tar`, type: 'file' }, l1!.tar],
      [{ path: `${id2}/`, type: 'dir' }],
      [{ path: `${id2}/layer.tar`, type: 'file' }, gz(l2!.tar)],
      [{ path: `${id3}/`, type: 'dir' }],
      [{ path: `${id3}/layer.tar`, type: 'symlink', linkname: `../${id1}/layer.tar` }],
      [{ path: cfgName, type: 'file' }, img.configBytes],
      [{ path: `${digestOf(cfg2).slice(7)}.json`, type: 'file' }, cfg2],
      [{ path: 'manifest.json', type: 'file' }, Buffer.from(JSON.stringify([
        { Config: cfgName, RepoTags: ['olddocker:1', 'olddocker:latest'], Layers: [`${id1}/layer.tar`, `${id2}/layer.tar`] },
        { Config: `${digestOf(cfg2).slice(7)}.json`, RepoTags: null, Layers: [`${id3}/layer.tar`] },
      ]))],
      [{ path: 'repositories', type: 'file' }, Buffer.from(JSON.stringify({ olddocker: { 1: id2 } }))],
    ]);
    writeFileSync(join(T, 'old.tar'), archive);
    const r = await berth('d', ['load', '-i', join(T, 'old.tar')]);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, `Loaded image: olddocker:1\nLoaded image: olddocker:latest\nLoaded image ID: ${digestOf(cfg2)}\n`);
    const d = await openStores(root('d'));
    assert.equal(await d.refs.resolve('docker.io/library/olddocker:1'), await d.refs.resolve('docker.io/library/olddocker:latest'));
    // the layers are stored as they were in the archive: layer 1 plain, layer 2 gzip
    assert.ok(await d.content.has(digestOf(l1!.tar)));
    assert.ok(await d.content.has(digestOf(gz(l2!.tar))));
    assert.ok(await d.content.has(img.config));
    const bundle = join(T, 'bundle-d');
    const c = await berth('d', ['bundle', 'create', 'olddocker:1', bundle, '--', 'cat /etc/layer2.txt; test ! -e /etc/old.txt && echo gone']);
    assert.equal(c.code, 0, show(c));
    const run = await runOci(bundle);
    assert.equal(run.code, 0, show(run));
    assert.equal(run.stdout, 'from layer 2\ngone\n');
    assert.deepEqual(residue('d').ingests, []);
  });

  it('umoci unpacks berth\'s saved layout into the tree the bundle shows; skopeo copies it', async () => {
    const layout = join(T, 'layout-a');
    mkdirSync(layout);
    sh('tar', ['-xf', join(T, 'a.tar'), '-C', layout]);
    const unpacked = join(T, 'umoci-bundle');
    sh('umoci', ['unpack', '--image', `${layout}:1`, unpacked]);
    const bundle = join(T, 'bundle-b');
    const mine = treeOf(join(bundle, 'rootfs'));
    const theirs = treeOf(join(unpacked, 'rootfs'));
    assert.deepEqual([...theirs.keys()].sort(), [...mine.keys()].sort());
    for (const [p, v] of theirs) assert.equal(mine.get(p), v, p);
    assert.ok(!theirs.has('etc/old.txt'));

    // skopeo reads it both as an OCI archive and as a docker-archive
    const out = join(T, 'skopeo-oci');
    sh('skopeo', ['--insecure-policy', 'copy', '-q', `oci-archive:${join(T, 'a.tar')}`, `oci:${out}:copied`]);
    const copied = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
    assert.equal(copied.manifests.length, 1);
    // the gzip layer is copied as is (skopeo compresses the plain one on its way to oci:)
    assert.ok(existsSync(join(out, 'blobs', 'sha256', digestOf(img.layers[0]!.blob).slice(7))), 'layer copied as is');
    const inspect = JSON.parse(sh('skopeo', ['--insecure-policy', 'inspect', `docker-archive:${join(T, 'a.tar')}`]));
    // a docker-archive's layers are named by their DiffIDs: skopeo decompressed and checked them
    assert.deepEqual(inspect.Layers, img.layers.map((l) => digestOf(l.tar)));
  });

  it('an OCI layout built by umoci loads; a bare-tag ref.name loads without a name, a full one is tagged', async () => {
    const layout = join(T, 'umoci-layout');
    sh('umoci', ['init', '--layout', layout]);
    sh('umoci', ['new', '--image', `${layout}:t`]);
    // unpack the empty image, fill its rootfs, repack: umoci writes the layer
    // (not `umoci insert SRC /`: its layer starts with an entry named "/", which berth's unpacker refuses)
    const ub = join(T, 'umoci-work');
    sh('umoci', ['unpack', '--image', `${layout}:t`, ub]);
    await busyboxRootfs(join(ub, 'rootfs'));
    writeFileSync(join(ub, 'rootfs', 'umoci.txt'), 'inserted by umoci\n');
    sh('umoci', ['repack', '--image', `${layout}:t`, ub]);
    sh('umoci', ['config', '--image', `${layout}:t`, '--config.cmd', '/bin/cat', '--config.cmd', '/umoci.txt']);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    const manifest = index.manifests[0].digest as string;
    const tarOfLayout = (): string => {
      const f = join(T, `umoci-${Date.now()}.tar`);
      sh('tar', ['-cf', f, '-C', layout, '.']);
      return f;
    };
    const r = await berth('e', ['load', '-i', tarOfLayout()]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^Loaded image ID: sha256:[0-9a-f]{64}\n$/);
    assert.match(r.stderr, /ref\.name "t" is a tag without a repository/);
    assert.equal(residue('e').refs, '', 'no name');
    // The layers unpack (DiffIDs checked again by the snapshot store) into umoci's tree.
    // (Not through `bundle create`: bundle/create.ts refuses a manifest without a mediaType
    // field, which umoci 0.4 writes; see the report.)
    const e = await openStores(root('e'));
    const stored = await readStoredImage(e.content, manifest as Digest, 'umoci');
    const lowers = await e.snapshots.prepare(stored.manifest.layers.map((l, i) => ({ digest: l.digest, mediaType: l.mediaType, diffId: stored.diffIds[i]! })), e.content);
    assert.equal(readFileSync(join(lowers.at(-1)!, 'umoci.txt'), 'utf8'), 'inserted by umoci\n');
    assert.deepEqual(stored.config.config, { Cmd: ['/bin/cat', '/umoci.txt'] });
    // and berth saves it again (by digest) as umoci can read
    const s = await berth('e', ['save', '-o', join(T, 'umoci-again.tar'), manifest]);
    assert.equal(s.code, 0, show(s));
    const again = join(T, 'umoci-again');
    mkdirSync(again);
    sh('tar', ['-xf', join(T, 'umoci-again.tar'), '-C', again]);
    const againIndex = JSON.parse(readFileSync(join(again, 'index.json'), 'utf8'));
    assert.deepEqual(againIndex.manifests.map((m: { digest: string }) => m.digest), [manifest]);

    index.manifests[0].annotations['org.opencontainers.image.ref.name'] = 'localhost/umoci/made:2';
    writeFileSync(join(layout, 'index.json'), JSON.stringify(index));
    const r2 = await berth('e', ['load', '-i', tarOfLayout()]);
    assert.equal(r2.code, 0, show(r2));
    assert.equal(r2.stdout, 'Loaded image: localhost/umoci/made:2\n');
  });

  it('import: a gzip\'d rootfs tarball → a runnable one-layer image with the --change settings', async () => {
    const src = join(T, 'import-src');
    await busyboxRootfs(src);
    writeFileSync(join(T, 'rootfs.tar.gz'), gz(await tarDir(src)));
    const r = await berth('f', [
      'import', '-m', 'made by the test', '--platform', 'linux/amd64',
      '-c', 'CMD ["/bin/sh", "-c", "echo $GREETING from $(pwd) as $(id -u)"]',
      '-c', 'ENV GREETING="hello there" OTHER=x', '-c', 'WORKDIR /tmp', '-c', 'WORKDIR sub',
      '-c', 'USER berth', '-c', 'EXPOSE 80 53/udp', '-c', 'LABEL a=b "c d"=e', '-c', 'VOLUME /data',
      '-c', 'STOPSIGNAL SIGINT',
      join(T, 'rootfs.tar.gz'), 'localhost/imported:1',
    ]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
    const id = r.stdout.trim() as Digest;
    const f = await openStores(root('f'));
    const config = JSON.parse((await f.content.readAll(id)).toString());
    assert.equal(config.architecture, 'amd64');
    assert.equal(config.os, 'linux');
    assert.deepEqual(config.config, {
      Cmd: ['/bin/sh', '-c', 'echo $GREETING from $(pwd) as $(id -u)'],
      Env: ['GREETING=hello there', 'OTHER=x'], WorkingDir: '/tmp/sub', User: 'berth',
      ExposedPorts: { '80/tcp': {}, '53/udp': {} }, Labels: { a: 'b', 'c d': 'e' }, Volumes: { '/data': {} }, StopSignal: 'SIGINT',
    });
    assert.equal(config.history.length, 1);
    assert.equal(config.history[0].comment, 'made by the test');
    assert.equal(config.rootfs.diff_ids[0], digestOf(await tarDir(src)));
    mkdirSync(join(src, 'tmp', 'sub'), { recursive: true }); // not in the image: the test below makes it
    const bundle = join(T, 'bundle-f');
    const c = await berth('f', ['bundle', 'create', 'localhost/imported:1', bundle]);
    assert.equal(c.code, 0, show(c));
    mkdirSync(join(bundle, 'rootfs', 'tmp', 'sub'));
    const run = await runOci(bundle);
    assert.equal(run.code, 0, show(run));
    assert.equal(run.stdout, 'hello there from /tmp/sub as 1000\n');

    // from stdin, no name, default message; a bad --change is refused before anything is stored
    const before = residue('f');
    const bad = await berth('f', ['import', '-c', 'RUN echo no', join(T, 'rootfs.tar.gz')]);
    assert.equal(bad.code, 1, show(bad));
    assert.match(bad.stderr, /RUN is not a valid change command/);
    // any gzip'd tar is a rootfs to import, read from stdin here
    const fromStdin = await berthFiles('f', ['import', '-'], { stdin: join(T, 'rootfs.tar.gz') });
    assert.equal(fromStdin.code, 0, show(fromStdin));
    const unnamed = JSON.parse((await f.content.readAll(fromStdin.stdout.trim() as Digest)).toString());
    assert.equal(unnamed.history[0].comment, 'Imported from -');
    assert.deepEqual(unnamed.config, {});
    const garbage = join(T, 'garbage.bin');
    writeFileSync(garbage, Buffer.alloc(3000, 7));
    const g = await berthFiles('f', ['import', '-'], { stdin: garbage });
    assert.equal(g.code, 1, show(g));
    assert.match(g.stderr, /import: not a valid tar archive/);
    assert.deepEqual(residue('f').ingests, []);
    assert.equal(residue('f').refs, before.refs);
    const url = await berth('f', ['import', 'http://127.0.0.1:1/x.tar']);
    assert.equal(url.code, 1, show(url));
    assert.match(url.stderr, /importing from a URL is not supported/);
  });

  it('export of a bundle is the rootfs its container sees: deletions absent, no whiteouts, links and xattrs kept', async () => {
    const bundle = join(T, 'bundle-x');
    const c = await berth('a', ['bundle', 'create', IMAGE, bundle, '--', 'rm /etc/group && echo new > /etc/made-by-container']);
    assert.equal(c.code, 0, show(c));
    const run = await runOci(bundle);
    assert.equal(run.code, 0, show(run));
    const r = await berth('a', ['export', '-o', join(T, 'export.tar'), bundle]);
    assert.equal(r.code, 0, show(r));
    const entries = await entriesOf(readFileSync(join(T, 'export.tar')));
    const byPath = new Map(entries.map((e) => [e.path.replace(/\/$/, ''), e]));
    assert.equal(entries.filter((e) => e.path.split('/').some((p) => p.startsWith('.wh.'))).length, 0, 'no whiteout names');
    assert.equal(entries.filter((e) => e.type === 'char' && e.devmajor === 0 && e.devminor === 0).length, 0, 'no overlay whiteouts');
    assert.ok(!byPath.has('etc/old.txt'), 'deleted by layer 2');
    assert.ok(!byPath.has('etc/group'), 'deleted by the container');
    assert.equal(byPath.get('etc/made-by-container')?.data.toString(), 'new\n');
    const l2 = byPath.get('etc/layer2.txt')!;
    assert.deepEqual([l2.data.toString(), l2.mode, l2.uid, l2.gid], ['from layer 2\n', 0o604, 1000, 1000]);
    assert.deepEqual(byPath.get('etc/passwd')?.xattrs.get('user.berth'), Buffer.from([0, 1, 2, 0xff]));
    const [ha, hb] = [byPath.get('etc/hl-a')!, byPath.get('etc/hl-b')!];
    assert.equal(ha.type, 'file');
    assert.deepEqual([hb.type, hb.linkname], ['hardlink', 'etc/hl-a']);
    assert.equal(byPath.get('tmp')?.mode, 0o1777);
    assert.equal(byPath.get('bin/true')?.type, 'symlink');

    // every path the container sees is in the export, with its type, mode and owner
    const seen = treeOf(join(bundle, 'rootfs'));
    assert.deepEqual([...byPath.keys()].sort(), [...seen.keys()].sort());
    for (const [p, v] of seen) {
      const e = byPath.get(p)!;
      const type = e.type === 'hardlink' ? 'file' : e.type;
      assert.equal(v.split(' ').slice(0, 3).join(' '), `${type} ${e.mode.toString(8)} ${e.uid}:${e.gid}`, p);
    }
    const notBundle = await berth('a', ['export', '-o', join(T, 'x.tar'), T]);
    assert.equal(notBundle.code, 1, show(notBundle));
    assert.match(notBundle.stderr, /not a berth bundle/);
  });

  describe('hostile archives are refused and leave no blobs, ingests or names', () => {
    const cases: [string, () => Promise<Buffer>, RegExp][] = [
      ['a path traversal name', () => tarEntries([[{ path: '../../etc/evil', type: 'file' }, Buffer.from('x')]]), /"\.\.\/\.\.\/etc\/evil": "\.\." in the path \(path traversal\) refused/],
      ['an absolute name', () => tarEntries([[{ path: '/etc/evil', type: 'file' }, Buffer.from('x')]]), /absolute path \(path traversal\) refused/],
      ['a blob whose content does not match its name', async () => {
        const saved = await entriesOf(readFileSync(join(T, 'a.tar')));
        return tarEntries(saved.map((e) => [e, e.path === `blobs/sha256/${img.config.slice(7)}` ? Buffer.from(e.data.toString().replace('hello', 'HELLO')) : e.type === 'file' ? e.data : undefined] as const));
      }, /content is sha256:[0-9a-f]{64}, not the digest its name says/],
      ['manifest.json pointing outside', () => tarEntries([
        [{ path: 'layer.tar', type: 'file' }, img.layers[1]!.tar],
        [{ path: 'manifest.json', type: 'file' }, Buffer.from(JSON.stringify([{ Config: '../../../etc/passwd', RepoTags: ['evil:1'], Layers: ['layer.tar'] }]))],
      ]), /manifest\.json\[0\]\.Config "\.\.\/\.\.\/\.\.\/etc\/passwd": "\.\." in the path \(path traversal\) refused/],
      ['a layer symlink pointing outside', () => tarEntries([
        [{ path: 'c.json', type: 'file' }, img.configBytes],
        [{ path: 'x/layer.tar', type: 'symlink', linkname: '../../../../etc/shadow' }],
        [{ path: 'manifest.json', type: 'file' }, Buffer.from(JSON.stringify([{ Config: 'c.json', RepoTags: ['evil:1'], Layers: ['x/layer.tar'] }]))],
      ]), /symlink "x\/layer\.tar" → "\.\.\/\.\.\/\.\.\/\.\.\/etc\/shadow": points outside the archive/],
      ['layers that are not what the config\'s diff_ids say', () => tarEntries([
        [{ path: 'c.json', type: 'file' }, img.configBytes],
        [{ path: 'l1.tar', type: 'file' }, img.layers[1]!.tar],
        [{ path: 'l2.tar', type: 'file' }, img.layers[0]!.tar],
        [{ path: 'manifest.json', type: 'file' }, Buffer.from(JSON.stringify([{ Config: 'c.json', RepoTags: ['evil:1'], Layers: ['l1.tar', 'l2.tar'] }]))],
      ]), /layer 0 .*its tar is sha256:[0-9a-f]{64}, but the config's rootfs\.diff_ids\[0\] says/],
      ['a truncated tar', async () => {
        const whole = readFileSync(join(T, 'a.tar'));
        return whole.subarray(0, Math.floor(whole.length / 2));
      }, /load: not a valid tar archive: unexpected end of archive/],
      ['a truncated gzip', async () => {
        const whole = gz(readFileSync(join(T, 'a.tar')));
        return whole.subarray(0, Math.floor(whole.length * 0.8));
      }, /load: .*(gzip|unexpected end)/],
      ['not a tar', async () => Buffer.from('this is not a tar archive at all\n'.repeat(40)), /load: not a valid tar archive/],
      ['an empty input', async () => Buffer.alloc(0), /load: the archive is empty/],
      ['a tar without manifest.json or index.json', () => tarEntries([[{ path: 'hello.txt', type: 'file' }, Buffer.from('hi')]]), /not an image archive: neither index\.json nor manifest\.json/],
      ['an index.json naming a blob the archive does not have', () => tarEntries([
        [{ path: 'oci-layout', type: 'file' }, Buffer.from('{"imageLayoutVersion":"1.0.0"}')],
        [{ path: 'index.json', type: 'file' }, Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MEDIA_TYPE_OCI_MANIFEST, digest: digestOf('nothing'), size: 7 }] }))],
      ]), /is neither in the archive \(blobs\/sha256\/[0-9a-f]{64}\) nor in the store/],
    ];
    for (const [what, make, message] of cases) {
      it(what, async () => {
        const r0 = await berth('h', ['load', '-i', join(T, 'old.tar')]); // the root holds images already
        assert.equal(r0.code, 0, show(r0));
        const before = residue('h');
        const file = join(T, 'hostile.tar');
        writeFileSync(file, await make());
        const r = await berth('h', ['load', '-i', file]);
        assert.equal(r.code, 1, show(r));
        assert.match(r.stderr, message);
        assert.match(r.stderr, /^berth: load: /);
        assert.deepEqual(residue('h'), before);
      });
    }
  });
});
