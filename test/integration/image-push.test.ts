// Push (OCI distribution spec) against Debian's docker-registry on 127.0.0.1: a pulled image
// pushed under new names and pulled back, the protocol seen through a recording pass-through
// proxy (mounts answered 201, monolithic PUTs, chunked PATCHes with Content-Range), an index,
// `berth push` with docker's lines, and the failures (not local, a read-only registry).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { busyboxRootfs, show } from '../fixtures/busybox.ts';
import { berth, stopDaemons } from '../fixtures/berth-cli.ts';
import { RecordingProxy, type Exchange } from '../fixtures/http-recorder.ts';
import { LocalRegistry, blob, freePort, gz, tarDir, tarOf } from '../fixtures/registry.ts';
import { openStores, type BerthStores } from '../../src/image/bundle/create.ts';
import {
  ACCEPT_ALL, MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_OCI_MANIFEST, parseManifest,
} from '../../src/image/registry/media.ts';
import { RegistryClient, RegistryError } from '../../src/image/registry/client.ts';
import { pullImage } from '../../src/image/registry/pull.ts';
import { ImageNotLocalError, pushImage, type PushOptions, type PushProgress } from '../../src/image/registry/push.ts';
import { ingest } from '../../src/image/store/content.ts';
import { digestHex, digestOf, type Digest } from '../../src/image/store/digest.ts';

const reg = new LocalRegistry();
const proxy = new RecordingProxy();
let T = '';
let A: BerthStores; // the root the image was pulled into
let srcName = '';
let srcDigest: Digest;
let layers: Digest[] = [];
let layerSizes: number[] = [];

const CHUNK = 256 << 10;
const name = (path: string): string => `${reg.domain}/${path}`;
/** pushImage through the recording proxy */
const viaProxy = (o: PushOptions = {}): PushOptions => ({ clientOptions: { baseUrl: proxy.url }, ...o });
const isBlobPut = (e: Exchange): boolean => e.method === 'PUT' && e.url.includes('/blobs/uploads/');

async function freshRoot(label: string): Promise<BerthStores> {
  return openStores(join(T, label));
}

describe('push to a registry', { timeout: 180_000 }, () => {
  before(async () => {
    T = mkdtempSync(join(tmpdir(), 'berth-push-'));
    await reg.start();
    await proxy.start(reg.url);
    // layer 1: a busybox rootfs (some hundreds of KiB gzipped: several chunks); layer 2: small
    const rootfs = join(T, 'src-rootfs');
    await busyboxRootfs(rootfs);
    const tar1 = await tarDir(rootfs);
    rmSync(rootfs, { recursive: true, force: true });
    const tar2 = await tarOf(async (w) => {
      await w.add({ path: 'etc/', type: 'dir', mode: 0o755 });
      await w.add({ path: 'etc/layer2.txt', type: 'file', mode: 0o644 }, Buffer.from('from layer 2\n'));
    });
    const ls = [gz(tar1), gz(tar2)].map(blob);
    const cfg = blob(JSON.stringify({
      architecture: process.arch === 'x64' ? 'amd64' : process.arch, os: 'linux', config: { Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: [digestOf(tar1), digestOf(tar2)] },
    }));
    const m = blob(JSON.stringify({
      schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST,
      config: { mediaType: MEDIA_TYPE_OCI_CONFIG, digest: cfg.digest, size: cfg.bytes.length },
      layers: ls.map((l) => ({ mediaType: MEDIA_TYPE_OCI_LAYER_GZIP, digest: l.digest, size: l.bytes.length })),
    }));
    for (const b of [...ls, cfg]) await reg.pushBlob('test/src', b);
    await reg.pushManifest('test/src', '1', m, MEDIA_TYPE_OCI_MANIFEST);
    assert.ok(ls[0]!.bytes.length > 2 * CHUNK, `layer 1 is ${ls[0]!.bytes.length} bytes: too small to need several chunks`);
    layers = ls.map((l) => l.digest);
    layerSizes = ls.map((l) => l.bytes.length);
    srcName = name('test/src:1');
    A = await freshRoot('a');
    srcDigest = (await pullImage(srcName, A.content, A.refs)).manifestDigest;
  });

  after(async () => {
    await stopDaemons(); // before the roots go: each berthd holds its root
    await proxy.stop();
    await reg.stop();
    if (T) rmSync(T, { recursive: true, force: true });
  });

  it('under a new name: every blob mounted from the repository it was pulled from (201), pulled back with the same digests', async () => {
    await A.refs.tag(name('push/mounted:1'), srcDigest);
    const events: PushProgress[] = [];
    const seen = proxy.mark();
    const r = await pushImage(name('push/mounted:1'), A.content, A.refs, viaProxy({ onProgress: (e) => events.push(e) }));
    assert.equal(r.digest, srcDigest);
    assert.equal(r.reference, '1');
    assert.equal(r.mediaType, MEDIA_TYPE_OCI_MANIFEST);
    assert.deepEqual(r.blobs.map((b) => [b.status, b.from]), [['mounted', 'test/src'], ['mounted', 'test/src'], ['mounted', 'test/src']]);
    const mounts = seen().filter((e) => e.method === 'POST' && e.url.includes('mount='));
    assert.equal(mounts.length, 3);
    for (const e of mounts) {
      assert.equal(e.status, 201, `mount ${e.url}`);
      assert.match(e.url, /^\/v2\/push\/mounted\/blobs\/uploads\/\?mount=sha256%3A[0-9a-f]{64}&from=test%2Fsrc$/);
    }
    assert.equal(seen().filter((e) => e.method === 'PATCH' || isBlobPut(e)).length, 0, 'nothing uploaded');
    const put = seen().filter((e) => e.method === 'PUT' && e.url === '/v2/push/mounted/manifests/1');
    assert.deepEqual(put.map((e) => [e.status, e.requestHeaders['content-type']]), [[201, MEDIA_TYPE_OCI_MANIFEST]]);
    assert.ok(events.some((e) => e.kind === 'manifest' && e.status === 'pushed' && e.digest === srcDigest));

    const B = await freshRoot('b-mounted');
    const back = await pullImage(name('push/mounted:1'), B.content, B.refs);
    assert.equal(back.manifestDigest, srcDigest);
    assert.deepEqual(back.layers, layers);
  });

  it('a mount the registry does not make (202): the upload goes through the session it opened', async () => {
    const C = await freshRoot('c-ghost');
    await pullImage(srcName, C.content, C.refs);
    await C.refs.untag(srcName);
    await C.refs.tag(name('push/ghost:1'), srcDigest); // a name of this registry that was never pushed there
    await C.refs.tag(name('push/fallback:1'), srcDigest);
    const seen = proxy.mark();
    const r = await pushImage(name('push/fallback:1'), C.content, C.refs, viaProxy());
    assert.deepEqual(r.blobs.map((b) => b.status), ['pushed', 'pushed', 'pushed']);
    const ex = seen();
    const mounts = ex.filter((e) => e.method === 'POST' && e.url.includes('mount='));
    assert.equal(mounts.length, 3);
    const sessions = mounts.map((e) => {
      assert.equal(e.status, 202, `mount ${e.url}`);
      assert.match(e.url, /&from=push%2Fghost$/);
      return new URL(String(e.responseHeaders.location), proxy.url).pathname;
    });
    assert.equal(ex.filter((e) => e.method === 'POST' && !e.url.includes('mount=')).length, 0, 'no second upload session');
    assert.deepEqual(ex.filter(isBlobPut).map((e) => new URL(e.url, proxy.url).pathname).sort(), sessions.sort());
    const B = await freshRoot('b-fallback');
    assert.equal((await pullImage(name('push/fallback:1'), B.content, B.refs)).manifestDigest, srcDigest);
  });

  it('monolithic upload: one POST and one PUT ?digest= with the whole blob each; pulled back the same', async () => {
    await A.refs.tag(name('push/mono:1'), srcDigest);
    const seen = proxy.mark();
    const r = await pushImage(name('push/mono:1'), A.content, A.refs, viaProxy({ mount: false, monolithicMax: Number.MAX_SAFE_INTEGER }));
    assert.deepEqual(r.blobs.map((b) => [b.status, b.upload]), [['pushed', 'monolithic'], ['pushed', 'monolithic'], ['pushed', 'monolithic']]);
    assert.equal(seen().filter((e) => e.method === 'PATCH').length, 0);
    const puts = seen().filter(isBlobPut);
    assert.equal(puts.length, 3);
    for (const e of puts) {
      assert.equal(e.status, 201);
      const d = new URL(e.url, 'http://x').searchParams.get('digest')!;
      const size = r.blobs.find((b) => b.digest === d)?.size;
      assert.equal(e.requestBytes, size, `PUT of ${d} carries the whole blob`);
      assert.equal(e.requestHeaders['content-length'], String(size));
    }
    const B = await freshRoot('b-mono');
    assert.equal((await pullImage(name('push/mono:1'), B.content, B.refs)).manifestDigest, srcDigest);
    for (const l of layers) assert.ok((await B.content.readAll(l)).equals(await A.content.readAll(l)));
  });

  it('chunked upload: PATCHes of chunkSize with contiguous Content-Range, each to the last Location, then an empty PUT', async () => {
    await A.refs.tag(name('push/chunked:1'), srcDigest);
    const seen = proxy.mark();
    const r = await pushImage(name('push/chunked:1'), A.content, A.refs, viaProxy({ mount: false, monolithicMax: 0, chunkSize: CHUNK, concurrency: 1 }));
    assert.deepEqual(r.blobs.map((b) => b.upload), ['chunked', 'chunked', 'chunked']);
    const ex = seen();
    const patches = ex.filter((e) => e.method === 'PATCH');
    const expected = r.blobs.reduce((n, b) => n + Math.ceil(b.size / CHUNK), 0);
    assert.equal(patches.length, expected);
    // layer 1's PATCHes (concurrency 1: one blob at a time, in manifest order after the config)
    const big = r.blobs.find((b) => b.digest === layers[0])!;
    const start = ex.findIndex((e) => e.method === 'HEAD' && e.url.endsWith(`/blobs/${big.digest}`));
    const mine = ex.slice(start).filter((e) => e.method === 'PATCH').slice(0, Math.ceil(big.size / CHUNK));
    let offset = 0;
    let expectUrl: string | undefined;
    for (const e of mine) {
      const n = Math.min(CHUNK, big.size - offset);
      assert.equal(e.requestHeaders['content-range'], `${offset}-${offset + n - 1}`);
      assert.equal(e.requestHeaders['content-length'], String(n));
      assert.equal(e.requestBytes, n);
      assert.equal(e.status, 202);
      assert.equal(e.responseHeaders.range, `0-${offset + n - 1}`);
      if (expectUrl !== undefined) assert.equal(e.url, expectUrl, 'each PATCH goes to the Location of the answer before');
      expectUrl = new URL(String(e.responseHeaders.location), proxy.url).pathname + new URL(String(e.responseHeaders.location), proxy.url).search;
      offset += n;
    }
    assert.equal(offset, big.size);
    const puts = ex.filter(isBlobPut);
    assert.equal(puts.length, 3);
    for (const e of puts) assert.deepEqual([e.status, e.requestBytes], [201, 0]);

    const B = await freshRoot('b-chunked');
    assert.equal((await pullImage(name('push/chunked:1'), B.content, B.refs)).manifestDigest, srcDigest);
  });

  it('a second push finds every blob (HEAD 200) and uploads nothing', async () => {
    const seen = proxy.mark();
    const r = await pushImage(name('push/mono:1'), A.content, A.refs, viaProxy());
    assert.deepEqual(r.blobs.map((b) => b.status), ['exists', 'exists', 'exists']);
    assert.deepEqual(seen().filter((e) => e.method !== 'HEAD').map((e) => `${e.method} ${e.url} ${e.status}`), ['PUT /v2/push/mono/manifests/1 201']);
  });

  it('berth push: docker\'s lines (mounted, then already exists), -q, -a, and pulled back by berth pull', async () => {
    const root = A.root;
    const tagged = name('push/cli:1');
    await A.refs.tag(tagged, srcDigest);
    const size = (await A.content.info(srcDigest)).size;
    const ids = layers.map((l) => digestHex(l).slice(0, 12));

    const p1 = await berth(root, ['push', tagged]);
    assert.equal(p1.code, 0, show(p1));
    const l1 = p1.stdout.trim().split('\n');
    assert.equal(l1[0], `The push refers to repository [${name('push/cli')}]`);
    // mounted from one of the repositories of this registry that root A knows hold the layers
    const holders = (await A.refs.list()).map((e) => e.name).filter((n) => n.startsWith(`${reg.domain}/`) && !n.startsWith(name('push/cli')));
    const repos = new Set(holders.map((n) => n.slice(reg.domain.length + 1).replace(/:.*/, '')));
    assert.deepEqual(l1.slice(1, -1).map((l) => l.replace(/ from .*/, '')).sort(), ids.map((id) => `${id}: Mounted`).sort());
    for (const l of l1.slice(1, -1)) assert.ok(repos.has(l.replace(/^.* from /, '')), `${l}: not one of ${[...repos].join(', ')}`);
    assert.equal(l1.at(-1), `1: digest: ${srcDigest} size: ${size}`);

    const p2 = await berth(root, ['push', tagged]);
    assert.equal(p2.code, 0, show(p2));
    assert.deepEqual(p2.stdout.trim().split('\n').slice(1, -1).sort(), ids.map((id) => `${id}: Layer already exists`).sort());

    const q = await berth(root, ['push', '-q', tagged]);
    assert.deepEqual([q.code, q.stdout], [0, `${tagged}\n`], show(q));

    // -a: every tag of the repository; a new tag uploads nothing
    await A.refs.tag(name('push/cli:2'), srcDigest);
    const all = await berth(root, ['push', '--all-tags', name('push/cli')]);
    assert.equal(all.code, 0, show(all));
    const finals = all.stdout.split('\n').filter((l) => l.includes(': digest: '));
    assert.deepEqual(finals, [`1: digest: ${srcDigest} size: ${size}`, `2: digest: ${srcDigest} size: ${size}`]);
    assert.doesNotMatch(all.stdout, /Pushed|Mounted/);
    const bad = await berth(root, ['push', '-a', tagged]);
    assert.equal(bad.code, 2, show(bad));
    assert.match(bad.stderr, /tag can't be used with --all-tags\/-a/);

    // default tag
    await A.refs.tag(name('push/cli:latest'), srcDigest);
    const dflt = await berth(root, ['push', name('push/cli')]);
    assert.equal(dflt.code, 0, show(dflt));
    assert.equal(dflt.stdout.split('\n')[0], 'Using default tag: latest');

    const fresh = join(T, 'b-cli');
    const pl = await berth(fresh, ['pull', name('push/cli:2')]);
    assert.equal(pl.code, 0, show(pl));
    assert.match(pl.stdout, new RegExp(`Digest: ${srcDigest}`));
  });

  it('an index stored locally: its manifests pushed by digest first, then the index by tag; each platform pulls back', async () => {
    // a second platform: same layers, its own config
    const cfg = await A.content.readAll(parseManifest(await A.content.readAll(srcDigest), MEDIA_TYPE_OCI_MANIFEST).config.digest);
    const armCfg = Buffer.from(JSON.stringify({ ...JSON.parse(cfg.toString()), architecture: 'arm64', variant: 'v8' }));
    const armCfgDigest = digestOf(armCfg);
    await ingest(A.content, 'test-arm-config', armCfg, { size: armCfg.length, digest: armCfgDigest });
    const armManifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST,
      config: { mediaType: MEDIA_TYPE_OCI_CONFIG, digest: armCfgDigest, size: armCfg.length },
      layers: layers.map((digest, i) => ({ mediaType: MEDIA_TYPE_OCI_LAYER_GZIP, digest, size: layerSizes[i] })),
    }));
    const armDigest = digestOf(armManifest);
    await ingest(A.content, 'test-arm-manifest', armManifest, { size: armManifest.length, digest: armDigest });
    const hostArch = process.arch === 'x64' ? 'amd64' : process.arch;
    const index = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX,
      manifests: [
        { mediaType: MEDIA_TYPE_OCI_MANIFEST, digest: srcDigest, size: (await A.content.info(srcDigest)).size, platform: { os: 'linux', architecture: hostArch } },
        { mediaType: MEDIA_TYPE_OCI_MANIFEST, digest: armDigest, size: armManifest.length, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      ],
    }));
    const indexDigest = digestOf(index);
    await ingest(A.content, 'test-index', index, { size: index.length, digest: indexDigest });
    await A.refs.tag(name('push/multi:1'), indexDigest);

    const seen = proxy.mark();
    const r = await pushImage(name('push/multi:1'), A.content, A.refs, viaProxy());
    assert.deepEqual([r.digest, r.mediaType, r.size], [indexDigest, MEDIA_TYPE_OCI_INDEX, index.length]);
    const manifestPuts = seen().filter((e) => e.method === 'PUT' && e.url.includes('/manifests/')).map((e) => [e.url, e.status]);
    assert.deepEqual(manifestPuts, [
      [`/v2/push/multi/manifests/${srcDigest}`, 201],
      [`/v2/push/multi/manifests/${armDigest}`, 201],
      ['/v2/push/multi/manifests/1', 201],
    ]);
    // the arm64 config was uploaded; the rest mounted
    assert.deepEqual(r.blobs.filter((b) => b.status === 'pushed').map((b) => b.digest), [armCfgDigest]);

    const got = await new RegistryClient(reg.domain).getManifest('push/multi', '1', ACCEPT_ALL);
    assert.deepEqual([got.digest, got.mediaType], [indexDigest, MEDIA_TYPE_OCI_INDEX]);
    const B = await freshRoot('b-multi');
    const host = await pullImage(name('push/multi:1'), B.content, B.refs);
    assert.deepEqual([host.indexDigest, host.manifestDigest], [indexDigest, srcDigest]);
    const arm = await pullImage(name('push/multi:1'), B.content, B.refs, { platform: { os: 'linux', architecture: 'arm64' } });
    assert.equal(arm.manifestDigest, armDigest);

    // a manifest of the index neither stored locally nor in the repository: refused before the index is PUT
    const missing = `sha256:${'1'.repeat(64)}` as Digest;
    const broken = Buffer.from(JSON.stringify({ ...JSON.parse(index.toString()), manifests: [{ mediaType: MEDIA_TYPE_OCI_MANIFEST, digest: missing, size: 100, platform: { os: 'linux', architecture: 's390x' } }] }));
    await ingest(A.content, 'test-broken-index', broken, { size: broken.length, digest: digestOf(broken) });
    await A.refs.tag(name('push/broken:1'), digestOf(broken));
    await assert.rejects(pushImage(name('push/broken:1'), A.content, A.refs), new RegExp(`index sha256:[0-9a-f]{12}: its manifest ${missing} is neither stored locally nor in ${reg.domain}/push/broken`));
    assert.equal((await fetch(`${reg.url}/v2/push/broken/manifests/1`)).status, 404);
  });

  it('an image not stored locally: docker\'s error, from the library and from berth push', async () => {
    await assert.rejects(pushImage(name('push/absent:1'), A.content, A.refs), (e: unknown) => {
      assert.ok(e instanceof ImageNotLocalError);
      assert.equal((e as Error).message, `An image does not exist locally with the tag: ${name('push/absent')}`);
      return true;
    });
    const r = await berth(A.root, ['push', name('push/absent:1')]);
    assert.equal(r.code, 1, show(r));
    assert.equal(r.stderr, `berth: An image does not exist locally with the tag: ${name('push/absent')}\n`);
    assert.equal(r.stdout, `The push refers to repository [${name('push/absent')}]\n`, 'docker says which repository first');
    // by a digest the content store does not hold
    const byDigest = await berth(A.root, ['push', `${name('push/absent')}@sha256:${'0'.repeat(64)}`]);
    assert.equal(byDigest.code, 1, show(byDigest));
    assert.match(byDigest.stderr, /An image does not exist locally/);
  });

  it('a registry that refuses writes (read-only) or does not answer: errors that say what, where and why', async () => {
    const ro = new LocalRegistry();
    await ro.start({ readOnly: true });
    try {
      await A.refs.tag(`${ro.domain}/x:1`, srcDigest);
      await assert.rejects(pushImage(`${ro.domain}/x:1`, A.content, A.refs), (e: unknown) => {
        assert.ok(e instanceof RegistryError, String(e));
        assert.equal(e.status, 405);
        assert.match(e.message, new RegExp(`^push ${ro.domain}/x:1: manifest sha256:[0-9a-f]{12}: (config|layer) sha256:[0-9a-f]{12}: upload start: http://${ro.domain}/v2/x/blobs/uploads/: HTTP 405`));
        return true;
      });
      const r = await berth(A.root, ['push', `${ro.domain}/x:1`]);
      assert.equal(r.code, 1, show(r));
      assert.match(r.stderr, /^berth: push .*: HTTP 405/);
      // nothing was tagged there
      const res = await fetch(`${ro.url}/v2/x/manifests/1`);
      assert.equal(res.status, 404);
    } finally {
      await A.refs.untag(`${ro.domain}/x:1`);
      await ro.stop();
    }
    const closed = `127.0.0.1:${await freePort()}`;
    await A.refs.tag(`${closed}/x:1`, srcDigest);
    try {
      await assert.rejects(pushImage(`${closed}/x:1`, A.content, A.refs, { clientOptions: { retries: 0 } }), (e: unknown) => {
        assert.ok(e instanceof RegistryError);
        assert.match((e as Error).message, new RegExp(`http://${closed}/v2/x/blobs/sha256:[0-9a-f]{64}: fetch failed .*ECONNREFUSED`));
        return true;
      });
    } finally {
      await A.refs.untag(`${closed}/x:1`);
    }
  });
});
