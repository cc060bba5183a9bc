// Local image management as a user sees it: `berth images / tag / inspect / history / rmi /
// image prune` against images pulled from Debian's docker-registry on 127.0.0.1; dangling images
// after a retag; rmi refused while a bundle uses the image; garbage collection of blobs and
// snapshots (shared ones kept); a pull running while prune runs; a dead process's lease ignored.
// Needs root (bundles mount overlays). Runs the CLI from source (BERTH_CLI_SRC=1).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { show, type CommandResult } from '../fixtures/busybox.ts';
import { berth as berthCli, stopDaemons } from '../fixtures/berth-cli.ts';
import { LocalRegistry, blob, gz, tarOf, type Blob } from '../fixtures/registry.ts';
import { MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_OCI_MANIFEST } from '../../src/image/registry/media.ts';
import { RegistryClient } from '../../src/image/registry/client.ts';
import { pullImage } from '../../src/image/registry/pull.ts';
import { digestOf, digestHex, type Digest } from '../../src/image/store/digest.ts';
import type { ContentStore } from '../../src/image/store/content.ts';
import { Leases } from '../../src/image/store/lease.ts';
import { openStores, createBundle, removeBundle } from '../../src/image/bundle/create.ts';
import { chainIds } from '../../src/image/snapshot/index.ts';
import { unmountOverlay } from '../../src/image/bundle/overlay.ts';
import { ImageService } from '../../src/image/images/index.ts';
import { humanSizeWithPrecision } from '../../src/cli/units.ts';

process.env.BERTH_CLI_SRC ??= '1';

const reg = new LocalRegistry();
let T = '';
const root = (): string => join(T, 'berth');
const berth = (args: string[]): Promise<CommandResult> => berthCli(root(), args);
async function ok(args: string[]): Promise<string> {
  const r = await berth(args);
  assert.equal(r.code, 0, show(r));
  return r.stdout;
}

interface TestImage { name: string; manifest: Blob; config: Blob; layers: Blob[]; diffIds: Digest[] }

/** Bytes of file content in layer(tag, files): what unpacking it writes (docker's layer size). */
const contentBytes = (tag: string, files = 3): number =>
  Array.from({ length: files }, (_, i) => Buffer.byteLength(`${tag} file ${i}\n`) * 50).reduce((a, b) => a + b, 0);

/** A tar layer of a few small files. */
async function layer(tag: string, files = 3): Promise<{ blob: Blob; diffId: Digest }> {
  const tar = await tarOf(async (w) => {
    await w.add({ path: `${tag}/`, type: 'dir', mode: 0o755 });
    for (let i = 0; i < files; i++) await w.add({ path: `${tag}/f${i}`, type: 'file', mode: 0o644 }, Buffer.from(`${tag} file ${i}\n`.repeat(50)));
  });
  return { blob: blob(gz(tar)), diffId: digestOf(tar) };
}

/** Pushes an image (config made with `extra`) to `repo:tag`. */
async function push(repo: string, tag: string, layers: { blob: Blob; diffId: Digest }[], extra: Record<string, unknown>): Promise<TestImage> {
  const config = blob(JSON.stringify({
    architecture: process.arch === 'x64' ? 'amd64' : process.arch, os: 'linux',
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    ...extra,
  }));
  return pushConfig(repo, tag, layers, config);
}

async function pushConfig(repo: string, tag: string, layers: { blob: Blob; diffId: Digest }[], config: Blob): Promise<TestImage> {
  const manifest = blob(JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST,
    config: { mediaType: MEDIA_TYPE_OCI_CONFIG, digest: config.digest, size: config.bytes.length },
    layers: layers.map((l) => ({ mediaType: MEDIA_TYPE_OCI_LAYER_GZIP, digest: l.blob.digest, size: l.blob.bytes.length })),
  }));
  for (const b of [...layers.map((l) => l.blob), config]) await reg.pushBlob(repo, b);
  await reg.pushManifest(repo, tag, manifest, MEDIA_TYPE_OCI_MANIFEST);
  return { name: `${reg.domain}/${repo}:${tag}`, manifest, config, layers: layers.map((l) => l.blob), diffIds: layers.map((l) => l.diffId) };
}

const ago = (ms: number): string => new Date(Date.now() - ms).toISOString();
const short = (d: string): string => digestHex(d as Digest).slice(0, 12);
const blobPath = (d: string): string => join(root(), 'content', 'blobs', 'sha256', digestHex(d as Digest));
const snapshotIds = (): string[] => readdirSync(join(root(), 'snapshot', 'snapshots')).sort();
const hexOf = (ids: string[]): string[] => ids.map((d) => digestHex(d as Digest)).sort();

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p === dir || p.startsWith(`${dir}/`));
}

let A: TestImage; // test/app:1 — base + layer a, history with an empty layer, created 2 minutes ago
let B: TestImage; // test/app:2 — base + layer b, created 3 hours ago
let repo = '';

describe('berth images / tag / inspect / history / rmi / image prune', { timeout: 300_000 }, () => {
  before(async () => {
    T = mkdtempSync(join(tmpdir(), 'berth-images-'));
    await reg.start();
    repo = `${reg.domain}/test/app`;
    const base = await layer('base');
    const la = await layer('a');
    const lb = await layer('b');
    A = await push('test/app', '1', [base, la], {
      created: ago(2 * 60_000 + 5000),
      author: 'berth tests',
      config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'], Labels: { 'org.example.kind': 'a', plain: 'x' } },
      history: [
        { created: ago(3 * 60_000), created_by: '/bin/sh -c #(nop) ADD file:0123456789abcdef0123456789abcdef in / ' },
        { created: ago(2 * 60_000 + 5000), created_by: '/bin/sh -c #(nop)  CMD ["/bin/sh"]', empty_layer: true },
        { created: ago(2 * 60_000 + 5000), created_by: 'RUN\tmake a', comment: 'layer a' },
      ],
    });
    B = await push('test/app', '2', [base, lb], { created: ago(3 * 3_600_000), config: { Cmd: ['/bin/sh'] } });
  });

  after(async () => {
    await stopDaemons(); // before the roots go: each berthd holds its root
    if (T) for (const p of mountsUnder(T).reverse()) await unmountOverlay(p).catch(() => undefined);
    await reg.stop();
    if (T) rmSync(T, { recursive: true, force: true });
  });

  it('images lists one row per tag, newest first, as docker prints it; -q, --no-trunc, --digests, --format, filters, REPOSITORY[:TAG]', async () => {
    await ok(['pull', '-q', A.name]);
    await ok(['pull', '-q', B.name]);
    const lines = (await ok(['images'])).split('\n');
    assert.match(lines[0]!, /^REPOSITORY {3,}TAG {7}IMAGE ID {7}CREATED {8,}SIZE$/);
    assert.equal(lines[0]!.indexOf('TAG'), repo.length + 3, 'columns padded by 3 (tabwriter)');
    assert.match(lines[1]!, new RegExp(`^${repo} {3}1 {9}${short(A.config.digest)} {3}2 minutes ago {3,}\\d[\\d.]*k?B$`));
    assert.match(lines[2]!, new RegExp(`^${repo} {3}2 {9}${short(B.config.digest)} {3}3 hours ago {3,}\\d[\\d.]*k?B$`));
    assert.equal(lines[3], '');
    assert.equal(lines.length, 4);

    assert.equal(await ok(['images', '-q']), `${short(A.config.digest)}\n${short(B.config.digest)}\n`);
    assert.equal(await ok(['image', 'ls', '-aq', '--no-trunc']), `${A.config.digest}\n${B.config.digest}\n`);
    const dig = (await ok(['images', '--digests'])).split('\n');
    assert.match(dig[0]!, /^REPOSITORY +TAG +DIGEST +IMAGE ID +CREATED +SIZE$/);
    assert.ok(dig[1]!.includes(` ${A.manifest.digest} `), dig[1]);
    assert.equal(await ok(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']), `${repo}:1 ${short(A.config.digest)}\n${repo}:2 ${short(B.config.digest)}\n`);
    assert.equal(await ok(['images', '--format', 'table {{.Tag}}\\t{{.ID}}']), `TAG       IMAGE ID\n1         ${short(A.config.digest)}\n2         ${short(B.config.digest)}\n`);
    assert.equal(JSON.parse((await ok(['images', '--format', 'json'])).split('\n')[0]!).Tag, '1');
    assert.equal(await ok(['images', '-q', `${repo}:2`]), `${short(B.config.digest)}\n`);
    assert.equal(await ok(['images', '-q', repo]), `${short(A.config.digest)}\n${short(B.config.digest)}\n`);
    assert.equal(await ok(['images', '-q', '-f', 'reference=*/app:1']), '', 'path.Match: * does not cross /');
    assert.equal(await ok(['images', '-q', '-f', 'reference=*/*/app:1']), `${short(A.config.digest)}\n`);
    assert.equal(await ok(['images', '-q', '-f', 'label=org.example.kind=a']), `${short(A.config.digest)}\n`);
    assert.equal(await ok(['images', '-q', '-f', `since=${B.name}`]), `${short(A.config.digest)}\n`);
    assert.equal(await ok(['images', '-q', '-f', 'dangling=true']), '');
    const bad = await berth(['images', '-f', 'colour=red']);
    assert.equal(bad.code, 1, show(bad));
    assert.match(bad.stderr, /invalid filter 'colour'/);
  });

  it('tag adds a name to the same image; inspect prints docker\'s JSON array and --format', async () => {
    assert.equal(await ok(['tag', A.name, 'mytest/app']), '');
    assert.equal(await ok(['images', '-q', 'mytest/app:latest']), `${short(A.config.digest)}\n`);
    const [info, ...more] = JSON.parse(await ok(['image', 'inspect', 'mytest/app']));
    assert.equal(more.length, 0);
    assert.equal(info.Id, A.config.digest);
    assert.deepEqual(info.RepoTags, [`${repo}:1`, 'mytest/app:latest']);
    assert.deepEqual(info.RepoDigests, [`${repo}@${A.manifest.digest}`, `mytest/app@${A.manifest.digest}`]);
    assert.deepEqual(info.RootFS, { Type: 'layers', Layers: A.diffIds });
    assert.equal(info.Author, 'berth tests');
    assert.deepEqual(info.Config.Cmd, ['/bin/sh']);
    // pulled, so unpacked: docker's size, the layers' unpacked bytes
    assert.equal(info.Size, contentBytes('base') + contentBytes('a'));
    assert.match(info.Metadata.LastTagTime, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(info.Descriptor, { mediaType: MEDIA_TYPE_OCI_MANIFEST, digest: A.manifest.digest, size: A.manifest.bytes.length });

    const f = await ok(['inspect', '-f', '{{.Id}} {{index .Config.Labels "org.example.kind"}} {{json .RepoTags}}', short(A.config.digest)]);
    assert.equal(f, `${A.config.digest} a ${JSON.stringify([`${repo}:1`, 'mytest/app:latest'])}\n`);
    const miss = await berth(['inspect', A.name, 'nothere']);
    assert.equal(miss.code, 1, show(miss));
    assert.equal(JSON.parse(miss.stdout).length, 1, 'the found one is still printed');
    assert.match(miss.stderr, /No such object: nothere/);
    const badTag = await berth(['tag', A.name, 'x@sha256:' + '0'.repeat(64)]);
    assert.equal(badTag.code, 1, show(badTag));
    assert.match(badTag.stderr, /refusing to create a tag with a digest reference/);
  });

  it('history: newest step first, docker\'s columns, truncation, -H=false, -q, --format', async () => {
    const lines = (await ok(['history', A.name])).split('\n');
    assert.match(lines[0]!, /^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$/);
    assert.match(lines[1]!, new RegExp(`^${short(A.config.digest)} +2 minutes ago +RUN make a +\\d[\\d.]*k?B +layer a$`));
    assert.match(lines[2]!, /^<missing> +2 minutes ago +\/bin\/sh -c #\(nop\) {2}CMD \["\/bin\/sh"\] +0B +$/);
    assert.match(lines[3]!, /^<missing> +3 minutes ago +\/bin\/sh -c #\(nop\) ADD file:0123456789abcdef0… +\d[\d.]*k?B +$/);
    assert.equal(lines.length, 5);
    const raw = (await ok(['image', 'history', '-H=false', '--no-trunc', A.name])).split('\n');
    assert.ok(raw[1]!.startsWith(A.config.digest), raw[1]);
    assert.match(raw[1]!, new RegExp(` ${contentBytes('a')} +layer a$`));
    assert.match(raw[3]!, /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d) +\/bin\/sh -c #\(nop\) ADD file:0123456789abcdef0123456789abcdef in \/ +\d+ +$/);
    assert.equal(await ok(['history', '-q', A.name]), `${short(A.config.digest)}\n<missing>\n<missing>\n`);
    // B's config has no history: one step per layer
    assert.equal(await ok(['history', '--format', '{{.ID}}|{{.Size}}', B.name]), `${short(B.config.digest)}|${humanSizeWithPrecision(contentBytes('b'), 3)}\n<missing>|${humanSizeWithPrecision(contentBytes('base'), 3)}\n`);
  });

  it('a retag leaves the old image dangling (<none>:<none>); image prune removes it and only its own blobs and snapshots', async () => {
    // unpack both images' layers (bundles), then drop the bundles: the snapshots stay with the images
    const stores = await openStores(root());
    for (const [img, dir] of [[A, 'pa'], [B, 'pb']] as const) {
      await createBundle(stores, img.name, join(T, dir), { pull: false });
      await removeBundle(join(T, dir));
    }
    const chainA = chainIds(A.diffIds);
    const chainB = chainIds(B.diffIds);
    assert.deepEqual(snapshotIds(), hexOf([...new Set([...chainA, ...chainB])]), '3 snapshots: the base is shared');
    assert.deepEqual(await new ImageService(stores).collect().then((r) => [r.content.deleted, r.snapshots]), [[], []], 'images keep their snapshots though no bundle owns them');

    await ok(['tag', A.name, B.name]); // app:2 now names A; B has no name left
    const lines = (await ok(['images'])).split('\n');
    assert.equal(lines.length, 6, lines.join('\n'));
    assert.match(lines[4]!, new RegExp(`^<none> +<none> +${short(B.config.digest)} +3 hours ago `));
    assert.equal(await ok(['images', '-q', '-f', 'dangling=true']), `${short(B.config.digest)}\n`);
    assert.deepEqual(JSON.parse(await ok(['inspect', short(B.config.digest)]))[0].RepoTags, []);

    const prune = await ok(['image', 'prune', '-f']);
    const expected = [
      'Deleted Images:', `deleted: ${B.config.digest}`, `deleted: ${chainB[1]}`, '',
    ].join('\n');
    assert.ok(prune.startsWith(`${expected}\nTotal reclaimed space: `), prune);
    assert.match(prune, /Total reclaimed space: \d[\d.]*k?B\n$/);
    for (const d of [B.manifest.digest, B.config.digest, B.layers[1]!.digest]) assert.ok(!existsSync(blobPath(d)), `${d} deleted`);
    for (const d of [A.manifest.digest, A.config.digest, ...A.layers.map((l) => l.digest)]) assert.ok(existsSync(blobPath(d)), `${d} kept`);
    assert.deepEqual(snapshotIds(), hexOf(chainA), 'the shared base snapshot is kept');
    assert.equal(await ok(['image', 'prune', '-f']), 'Total reclaimed space: 0B\n');
  });

  it('rmi: untag while other names remain; refused while a bundle uses the image; allowed after bundle rm; -f while a bundle uses it', async () => {
    const b1 = join(T, 'b1');
    await ok(['bundle', 'create', A.name, b1]);
    // names: app:1, app:2 (same repository), mytest/app:latest
    assert.equal(await ok(['rmi', 'mytest/app']), `Untagged: mytest/app:latest\nUntagged: mytest/app@${A.manifest.digest}\n`);
    assert.equal(await ok(['rmi', `${repo}:2`]), `Untagged: ${repo}:2\n`, 'another tag of the repository remains');
    const byId = await berth(['rmi', short(A.config.digest).slice(0, 6)]);
    assert.equal(byId.code, 1, show(byId));
    assert.equal(byId.stderr, `Error response from daemon: conflict: unable to delete ${short(A.config.digest)} (must be forced) - image is being used by bundle ${b1}\n`);
    const last = await berth(['rmi', `${repo}:1`]);
    assert.equal(last.code, 1, show(last));
    assert.equal(last.stderr, `Error response from daemon: conflict: unable to remove repository reference "${repo}:1" (must force) - bundle ${b1} is using its referenced image ${short(A.config.digest)}\n`);
    assert.ok(existsSync(blobPath(A.config.digest)));

    await ok(['bundle', 'rm', b1]);
    const chainA = chainIds(A.diffIds);
    assert.equal(await ok(['rmi', `${repo}:1`]), [
      `Untagged: ${repo}:1`, `Untagged: ${repo}@${A.manifest.digest}`, `Deleted: ${A.config.digest}`,
      ...[...chainA].sort().map((c) => `Deleted: ${c}`), '',
    ].join('\n'));
    assert.deepEqual(snapshotIds(), []);
    assert.deepEqual(readdirSync(join(root(), 'content', 'blobs', 'sha256')), []);
    assert.equal(await ok(['images', '-aq']), '');

    // -f: removed while a bundle uses it; the bundle keeps its snapshots until bundle rm
    await ok(['pull', '-q', A.name]);
    const b2 = join(T, 'b2');
    await ok(['bundle', 'create', A.name, b2]);
    const forced = await ok(['rmi', '-f', A.name]);
    assert.match(forced, new RegExp(`^Untagged: ${repo}:1\nUntagged: ${repo}@${A.manifest.digest}\nDeleted: ${A.config.digest}\n$`));
    assert.deepEqual(snapshotIds(), hexOf(chainA), 'owned by the bundle');
    assert.ok(existsSync(join(b2, 'rootfs', 'a', 'f0')), 'the bundle still mounts its layers');
    await ok(['bundle', 'rm', b2]);
    assert.match(await ok(['image', 'prune', '-f']), /^Total reclaimed space: \d[\d.]*k?B\n$/, 'the snapshots nothing uses any more');
    assert.deepEqual(snapshotIds(), []);
  });

  it('rmi errors: unknown name, ambiguous ID prefix, several repositories without -f', async () => {
    const unknown = await berth(['rmi', 'nothere']);
    assert.equal(unknown.code, 1, show(unknown));
    assert.equal(unknown.stderr, 'Error: No such image: nothere:latest\n');

    // two images whose IDs share their first hex digit
    const base = await layer('amb', 1);
    const c1 = blob(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [base.diffId] }, config: { Labels: { n: '0' } } }));
    let c2: Blob;
    for (let n = 1; ; n++) {
      c2 = blob(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [base.diffId] }, config: { Labels: { n: String(n) } } }));
      if (digestHex(c2.digest)[0] === digestHex(c1.digest)[0]) break;
    }
    const I1 = await pushConfig('test/amb', '1', [base], c1);
    const I2 = await pushConfig('test/amb', '2', [base], c2);
    await ok(['pull', '-q', I1.name]);
    await ok(['pull', '-q', I2.name]);
    const prefix = digestHex(c1.digest)[0]!;
    const amb = await berth(['rmi', prefix]);
    assert.equal(amb.code, 1, show(amb));
    assert.match(amb.stderr, new RegExp(`^Error response from daemon: ambiguous image ID prefix "${prefix}": matches 2 images \\(`));

    await ok(['tag', I1.name, 'other/repo:1']);
    const multi = await berth(['rmi', short(c1.digest)]);
    assert.equal(multi.code, 1, show(multi));
    assert.equal(multi.stderr, `Error response from daemon: conflict: unable to delete ${short(c1.digest)} (must be forced) - image is referenced in multiple repositories\n`);
    const forced = await ok(['rmi', '-f', short(c1.digest)]);
    assert.match(forced, new RegExp(`^Untagged: ${reg.domain}/test/amb:1\nUntagged: other/repo:1\nUntagged: ${reg.domain}/test/amb@sha256:[0-9a-f]{64}\nUntagged: other/repo@sha256:[0-9a-f]{64}\nDeleted: ${c1.digest}\n`));
    assert.match(await ok(['rmi', I2.name]), new RegExp(`Deleted: ${c2.digest}\n`));
    assert.equal(await ok(['images', '-q']), '');
  });

  it('a pull running while prune -a runs ends with a complete, usable image (its blobs are leased until tagged)', async () => {
    const stores = await openStores(root());
    let reached!: () => void;
    const atGate = new Promise<void>((r) => { reached = r; });
    let open!: () => void;
    const gate = new Promise<void>((r) => { open = r; });
    const lastLayer = A.layers[1]!.digest;
    // Stops after the config and the first layer are committed, before the last layer is fetched.
    class GatedClient extends RegistryClient {
      override async fetchBlob(repoPath: string, digest: Digest, store: ContentStore, size: number, ...rest: unknown[]): Promise<Digest> {
        if (digest === lastLayer) {
          reached();
          await gate;
        }
        return (super.fetchBlob as (...a: unknown[]) => Promise<Digest>)(repoPath, digest, store, size, ...rest);
      }
    }
    const pulling = pullImage(A.name, stores.content, stores.refs, { client: new GatedClient(reg.domain), concurrency: 1 });
    await atGate;
    assert.ok(existsSync(blobPath(A.config.digest)) && existsSync(blobPath(A.layers[0]!.digest)), 'committed, not yet tagged');
    const leases = await Leases.forContent(stores.content).active();
    assert.equal(leases.leases.length, 1);
    assert.ok(leases.content.has(A.config.digest) && leases.content.has(lastLayer));

    const prune = await ok(['image', 'prune', '-a', '-f']);
    assert.equal(prune, 'Total reclaimed space: 0B\n', 'nothing of the pull in flight is collected');
    assert.ok(existsSync(blobPath(A.config.digest)) && existsSync(blobPath(A.layers[0]!.digest)));
    open();
    const r = await pulling;
    assert.equal(r.manifestDigest, A.manifest.digest);
    assert.deepEqual((await Leases.forContent(stores.content).active()).leases, [], 'the lease ends with the pull');
    for (const d of [A.manifest.digest, A.config.digest, ...A.layers.map((l) => l.digest)]) assert.ok(existsSync(blobPath(d)), d);
    const b3 = join(T, 'b3');
    await ok(['bundle', 'create', A.name, b3]);
    assert.ok(existsSync(join(b3, 'rootfs', 'base', 'f2')));
    await ok(['bundle', 'rm', b3]);
  });

  it('a lease of a dead process is ignored (and dropped); a live one keeps its blobs', async () => {
    const stores = await openStores(root());
    const orphan = blob('orphan blob of a crashed pull');
    const w = await stores.content.writer('orphan');
    await w.write(orphan.bytes);
    await w.commit(orphan.bytes.length, orphan.digest);

    const live = await Leases.forContent(stores.content).acquire('test: live');
    await live.add({ content: [orphan.digest] });
    assert.match(await ok(['image', 'prune', '-f']), /^Total reclaimed space: 0B\n$/);
    assert.ok(existsSync(blobPath(orphan.digest)), 'kept by the live lease');
    await live.release();

    const dead = spawnSync('true').pid!;
    const leaseFile = join(root(), 'content', 'leases', `${dead}-deadbeef.json`);
    writeFileSync(leaseFile, JSON.stringify({ pid: dead, start: '1', label: 'pull (crashed)', createdAt: new Date().toISOString(), content: [orphan.digest], snapshots: [] }));
    assert.equal(await ok(['image', 'prune', '-f']), `Total reclaimed space: ${orphan.bytes.length}B\n`);
    assert.ok(!existsSync(blobPath(orphan.digest)), 'collected: its lease belonged to a dead process');
    assert.ok(!existsSync(leaseFile), 'the dead lease is dropped');

    // clean: the last image goes, and with it everything
    await ok(['rmi', A.name]);
    assert.deepEqual(readdirSync(join(root(), 'content', 'blobs', 'sha256')), []);
    assert.deepEqual(snapshotIds(), []);
    assert.deepEqual(mountsUnder(T), []);
  });
});
