// Registry client and pull against Debian's docker-registry on 127.0.0.1 (started and stopped
// here, in a temp dir), plus tiny HTTP servers of the test's own on 127.0.0.1 for what a real
// registry will not do: lie about digests, demand Bearer tokens, redirect to blob storage,
// fail with 5xx, serve ranges. No other host is contacted.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { RegistryClient, RegistryError } from '../../src/image/registry/client.ts';
import {
  MEDIA_TYPE_DOCKER_CONFIG, MEDIA_TYPE_DOCKER_LAYER, MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_OCI_MANIFEST, selectPlatform, parseIndex,
} from '../../src/image/registry/media.ts';
import { pullImage } from '../../src/image/registry/pull.ts';
import { ContentStore } from '../../src/image/store/content.ts';
import { digestOf, type Digest } from '../../src/image/store/digest.ts';
import { DigestMismatchError } from '../../src/image/store/errors.ts';
import { ImageRefs } from '../../src/image/store/refs.ts';
import { LocalRegistry, blob, gz, tarOf, type Blob } from '../fixtures/registry.ts';

async function tarGz(files: Record<string, string>): Promise<Buffer> {
  return gz(await tarOf(async (w) => {
    for (const [path, content] of Object.entries(files)) {
      if (path.endsWith('/')) await w.add({ path, type: 'dir', mode: 0o755 });
      else await w.add({ path, type: 'file', mode: 0o644 }, Buffer.from(content));
    }
  }));
}

function config(arch: string): Blob {
  return blob(JSON.stringify({
    architecture: arch, os: 'linux', config: { Cmd: ['/bin/sh'], Env: ['PATH=/bin'] },
    rootfs: { type: 'layers', diff_ids: [] }, history: [],
  }));
}

function manifest(cfg: Blob, layers: Blob[], oci = false): Blob {
  return blob(JSON.stringify({
    schemaVersion: 2,
    mediaType: oci ? MEDIA_TYPE_OCI_MANIFEST : MEDIA_TYPE_DOCKER_MANIFEST,
    config: { mediaType: oci ? MEDIA_TYPE_OCI_CONFIG : MEDIA_TYPE_DOCKER_CONFIG, digest: cfg.digest, size: cfg.bytes.length },
    layers: layers.map((l) => ({ mediaType: oci ? MEDIA_TYPE_OCI_LAYER_GZIP : MEDIA_TYPE_DOCKER_LAYER, digest: l.digest, size: l.bytes.length })),
  }));
}

// ---- docker-registry lifecycle and a push over its API

const reg = new LocalRegistry();

// ---- tiny servers of our own

interface Fake { server: Server; url: string; domain: string; close(): Promise<void> }

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Fake> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const domain = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    server, domain, url: `http://${domain}`,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

let work = '';
async function freshStore(): Promise<{ store: ContentStore; refs: ImageRefs }> {
  const dir = await mkdtemp(join(work, 'store-'));
  return { store: await ContentStore.open(join(dir, 'content')), refs: new ImageRefs(join(dir, 'refs.json')) };
}

const fast = { retries: 3, backoffMs: 10 };

describe('image registry client and pull', { timeout: 120_000 }, () => {
  const layer1 = { bytes: Buffer.alloc(0), digest: '' as Digest };
  const layer2 = { bytes: Buffer.alloc(0), digest: '' as Digest };
  const cfgAmd = config('amd64');
  const cfgArm = config('arm64');
  let m1: Blob;
  let mArm: Blob;
  let idx: Blob;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-registry-test-'));
    Object.assign(layer1, blob(await tarGz({ 'etc/': '', 'etc/hello': 'hello from layer 1\n' })));
    Object.assign(layer2, blob(await tarGz({ 'bin/': '', 'bin/tool': '#!/bin/sh\necho layer 2\n' })));
    await reg.start();
    for (const b of [layer1, layer2, cfgAmd, cfgArm]) await reg.pushBlob('test/small', b);
    m1 = manifest(cfgAmd, [layer1, layer2]);
    await reg.pushManifest('test/small', 'v1', m1, MEDIA_TYPE_DOCKER_MANIFEST);
    // A two-platform OCI index: amd64 → m1's content, arm64 → its own config and layer 2 only.
    const mAmdOci = manifest(cfgAmd, [layer1, layer2], true);
    mArm = manifest(cfgArm, [layer2], true);
    await reg.pushManifest('test/small', mAmdOci.digest, mAmdOci, MEDIA_TYPE_OCI_MANIFEST);
    await reg.pushManifest('test/small', mArm.digest, mArm, MEDIA_TYPE_OCI_MANIFEST);
    idx = blob(JSON.stringify({
      schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX,
      manifests: [
        { mediaType: MEDIA_TYPE_OCI_MANIFEST, digest: mAmdOci.digest, size: mAmdOci.bytes.length, platform: { os: 'linux', architecture: 'amd64' } },
        { mediaType: MEDIA_TYPE_OCI_MANIFEST, digest: mArm.digest, size: mArm.bytes.length, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      ],
    }));
    await reg.pushManifest('test/small', 'multi', idx, MEDIA_TYPE_OCI_INDEX);
  });

  after(async () => {
    await reg.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('uses plain http for loopback, https otherwise, registry-1.docker.io for docker.io', () => {
    assert.equal(new RegistryClient('127.0.0.1:5000').baseUrl, 'http://127.0.0.1:5000');
    assert.equal(new RegistryClient('localhost:5000').baseUrl, 'http://localhost:5000');
    assert.equal(new RegistryClient('registry.example:5000').baseUrl, 'https://registry.example:5000');
    assert.equal(new RegistryClient('registry.example:5000', { insecure: ['registry.example:5000'] }).baseUrl, 'http://registry.example:5000');
    assert.equal(new RegistryClient('docker.io').baseUrl, 'https://registry-1.docker.io');
  });

  it('pulls an image pushed to docker-registry: manifest, config and layers stored, name tagged', async () => {
    const { store, refs } = await freshStore();
    const blobs: string[] = [];
    const r = await pullImage(`${reg.domain}/test/small:v1`, store, refs, {
      platform: { os: 'linux', architecture: 'amd64' }, onBlob: (kind, d) => blobs.push(`${kind} ${d}`),
    });
    assert.equal(r.name, `${reg.domain}/test/small:v1`);
    assert.equal(r.manifestDigest, m1.digest);
    assert.equal(r.indexDigest, undefined);
    assert.equal(r.mediaType, MEDIA_TYPE_DOCKER_MANIFEST);
    assert.equal(r.configDigest, cfgAmd.digest);
    assert.deepEqual(r.layers, [layer1.digest, layer2.digest]);
    for (const b of [m1, cfgAmd, layer1, layer2]) {
      assert.ok(await store.has(b.digest), `${b.digest} stored`);
      assert.deepEqual(await store.readAll(b.digest), b.bytes);
    }
    assert.equal(await refs.resolve(`${reg.domain}/test/small:v1`), m1.digest);
    assert.deepEqual((await store.listStatuses()), []);
    assert.equal(blobs.length, 4);
    // A second pull finds everything there.
    const again = await pullImage(`${reg.domain}/test/small:v1`, store, refs, { platform: { os: 'linux', architecture: 'amd64' } });
    assert.equal(again.manifestDigest, m1.digest);
  });

  it('getManifest by tag checks Docker-Content-Digest; by digest verifies the body', async () => {
    const c = new RegistryClient(reg.domain, fast);
    const byTag = await c.getManifest('test/small', 'v1', [MEDIA_TYPE_DOCKER_MANIFEST]);
    assert.equal(byTag.digest, m1.digest);
    assert.equal(byTag.mediaType, MEDIA_TYPE_DOCKER_MANIFEST);
    const byDigest = await c.getManifest('test/small', m1.digest, [MEDIA_TYPE_DOCKER_MANIFEST]);
    assert.deepEqual(byDigest.bytes, m1.bytes);
    await assert.rejects(c.getManifest('test/small', 'nope', [MEDIA_TYPE_DOCKER_MANIFEST]), (e: unknown) =>
      e instanceof RegistryError && e.status === 404 && /not found/.test(e.message));
  });

  it('chooses the platform of an index (arm64 / amd64)', async () => {
    const { store, refs } = await freshStore();
    const arm = await pullImage(`${reg.domain}/test/small:multi`, store, refs, { platform: { os: 'linux', architecture: 'arm64' } });
    assert.equal(arm.indexDigest, idx.digest);
    assert.equal(arm.manifestDigest, mArm.digest);
    assert.equal(arm.configDigest, cfgArm.digest);
    assert.deepEqual(arm.layers, [layer2.digest]);
    assert.equal(await store.has(layer1.digest), false, 'the other platform\'s layer is not fetched');
    assert.ok(await store.has(idx.digest));
    assert.equal(await refs.resolve(`${reg.domain}/test/small:multi`), mArm.digest);
    const amd = await pullImage(`${reg.domain}/test/small:multi`, store, refs, { platform: { os: 'linux', architecture: 'x86_64' } });
    assert.equal(amd.configDigest, cfgAmd.digest);
    await assert.rejects(pullImage(`${reg.domain}/test/small:multi`, store, refs, { platform: { os: 'linux', architecture: 's390x' } }),
      /no manifest for platform linux\/s390x in the index \(it has: linux\/amd64, linux\/arm64\)/);
  });

  it('selectPlatform: variants, aliases, manifest lists', () => {
    const d = (arch: string, variant?: string) => ({
      mediaType: MEDIA_TYPE_DOCKER_MANIFEST, digest: digestOf(arch + (variant ?? '')), size: 1,
      platform: { os: 'linux', architecture: arch, ...(variant && { variant }) },
    });
    const list = parseIndex(Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MEDIA_TYPE_DOCKER_MANIFEST_LIST,
      manifests: [d('arm', 'v6'), d('arm', 'v7'), d('arm64', 'v8'), d('amd64')],
    })), MEDIA_TYPE_DOCKER_MANIFEST_LIST);
    assert.equal(selectPlatform(list, { os: 'linux', architecture: 'arm', variant: 'v6' }).digest, digestOf('armv6'));
    assert.equal(selectPlatform(list, { os: 'linux', architecture: 'arm' }).digest, digestOf('armv7'));
    assert.equal(selectPlatform(list, { os: 'linux', architecture: 'aarch64' }).digest, digestOf('arm64v8'));
    assert.equal(selectPlatform(list, { os: 'linux', architecture: 'amd64' }).digest, digestOf('amd64'));
  });

  it('a manifest fetched by a digest it does not have → "digest mismatch"', async () => {
    const other = digestOf('something else');
    const liar = await serve((req, res) => {
      res.writeHead(200, { 'content-type': MEDIA_TYPE_DOCKER_MANIFEST, 'docker-content-digest': req.url!.includes('/manifests/sha256:') ? other : digestOf('x') });
      res.end(m1.bytes);
    });
    try {
      const c = new RegistryClient(liar.domain, fast);
      await assert.rejects(c.getManifest('test/small', other, [MEDIA_TYPE_DOCKER_MANIFEST]),
        (e: unknown) => e instanceof RegistryError && /digest mismatch/.test(e.message) && e.message.includes(other) && e.message.includes(m1.digest));
      await assert.rejects(c.getManifest('test/small', 'v1', [MEDIA_TYPE_DOCKER_MANIFEST]),
        /digest mismatch: Docker-Content-Digest says sha256:/);
      const { store, refs } = await freshStore();
      await assert.rejects(pullImage(`${liar.domain}/test/small@${other}`, store, refs), /digest mismatch/);
      assert.deepEqual(await store.list(), []);
      assert.deepEqual(await refs.list(), []);
    } finally {
      await liar.close();
    }
  });

  it('a blob that does not match its digest → DigestMismatchError, nothing stored, no ingest left', async () => {
    const liar = await serve((_req, res) => {
      const wrong = Buffer.from(layer1.bytes);
      wrong[wrong.length - 1]! ^= 0xff;
      res.writeHead(200, { 'content-length': String(wrong.length) });
      res.end(wrong);
    });
    try {
      const { store } = await freshStore();
      const c = new RegistryClient(liar.domain, fast);
      await assert.rejects(c.fetchBlob('test/small', layer1.digest, store, layer1.bytes.length), (e: unknown) =>
        e instanceof DigestMismatchError && /digest mismatch/.test(e.message) && e.expected === layer1.digest);
      assert.equal(await store.has(layer1.digest), false);
      assert.deepEqual(await store.list(), []);
      assert.deepEqual(await store.listStatuses(), []);
      // Too many bytes: a size error at once, nothing kept.
      await assert.rejects(c.fetchBlob('test/small', layer1.digest, store, layer1.bytes.length - 10), /size mismatch/);
      assert.deepEqual(await store.listStatuses(), []);
    } finally {
      await liar.close();
    }
  });

  it('retries 5xx and cut transfers, resumes with Range from the ingest offset', async () => {
    const data = layer1.bytes;
    const seen: { range?: string; status: number }[] = [];
    let n = 0;
    const srv = await serve((req, res) => {
      n++;
      if (n === 1) {
        seen.push({ status: 503 });
        res.writeHead(503).end('busy');
        return;
      }
      if (n === 2) {
        // Half the blob, then the connection dies.
        seen.push({ status: 200 });
        res.writeHead(200, { 'content-length': String(data.length) });
        res.write(data.subarray(0, 40), () => setTimeout(() => res.destroy(), 20));
        return;
      }
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (m) {
        const from = Number(m[1]);
        seen.push({ range: req.headers.range!, status: 206 });
        res.writeHead(206, { 'content-range': `bytes ${from}-${data.length - 1}/${data.length}`, 'content-length': String(data.length - from) });
        res.end(data.subarray(from));
        return;
      }
      seen.push({ status: 200 });
      res.writeHead(200).end(data);
    });
    try {
      const { store } = await freshStore();
      const c = new RegistryClient(srv.domain, fast);
      assert.equal(await c.fetchBlob('test/small', layer1.digest, store, data.length), layer1.digest);
      assert.deepEqual(await store.readAll(layer1.digest), data);
      assert.deepEqual(seen, [{ status: 503 }, { status: 200 }, { range: 'bytes=40-', status: 206 }]);
      assert.deepEqual(await store.listStatuses(), []);
    } finally {
      await srv.close();
    }
  });

  it('a registry that ignores Range: the blob is fetched again from byte 0', async () => {
    const data = layer2.bytes;
    const srv = await serve((_req, res) => { res.writeHead(200).end(data); });
    try {
      const { store } = await freshStore();
      const w = await store.writer(`registry-blob-${layer2.digest}`, { expectedSize: data.length, expectedDigest: layer2.digest });
      await w.write(data.subarray(0, 30));
      await w.close();
      const c = new RegistryClient(srv.domain, fast);
      await c.fetchBlob('test/small', layer2.digest, store, data.length);
      assert.deepEqual(await store.readAll(layer2.digest), data);
    } finally {
      await srv.close();
    }
  });

  it('17: a registry that stalls (no headers; mid-blob) fails the attempt after the stall timeout, says so, and is retried', async () => {
    const data = layer1.bytes;
    const man = manifest(cfgAmd, [layer1], true);
    const held: ServerResponse[] = [];
    const hits: string[] = [];
    let manifestHits = 0;
    let blobHits = 0;
    const srv = await serve((req, res) => {
      const path = (req.url ?? '').split('?')[0]!;
      hits.push(`${path} ${req.headers.range ?? ''}`.trim());
      if (path.includes('/manifests/')) {
        // the first answer never comes: no status line, no headers
        if (++manifestHits === 1) return void held.push(res);
        res.writeHead(200, { 'content-type': MEDIA_TYPE_OCI_MANIFEST, 'content-length': String(man.bytes.length) }).end(man.bytes);
        return;
      }
      if (path.endsWith(cfgAmd.digest)) return void res.writeHead(200, { 'content-length': String(cfgAmd.bytes.length) }).end(cfgAmd.bytes);
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (++blobHits === 1) {
        // headers and 40 bytes, then silence with the connection open
        res.writeHead(200, { 'content-length': String(data.length) });
        res.write(data.subarray(0, 40));
        held.push(res);
        return;
      }
      const from = m ? Number(m[1]) : 0;
      res.writeHead(m ? 206 : 200, { 'content-length': String(data.length - from), ...(m && { 'content-range': `bytes ${from}-${data.length - 1}/${data.length}` }) });
      res.end(data.subarray(from));
    });
    try {
      const { store, refs } = await freshStore();
      const said: string[] = [];
      const t0 = Date.now();
      const r = await pullImage(`${srv.domain}/test/stall:1`, store, refs, {
        clientOptions: { ...fast, stallTimeoutMs: 1000, onRetry: (m) => said.push(m) },
      });
      assert.equal(r.manifestDigest, man.digest);
      assert.deepEqual(await store.readAll(layer1.digest), data);
      assert.ok(Date.now() - t0 < 10_000, 'each stall cost about the stall timeout');
      assert.equal(said.length, 2, said.join('\n'));
      assert.equal(said[0], `manifest test/stall:1 from registry ${srv.domain}: stalled: no data from the registry for 1s; retrying (attempt 2 of 4)`);
      assert.equal(said[1], `blob test/stall@${layer1.digest} from registry ${srv.domain}: stalled: no data from the registry for 1s (at byte 40 of ${data.length}); retrying (attempt 2 of 4)`);
      assert.ok(hits.includes(`/v2/test/stall/blobs/${layer1.digest} bytes=40-`), `resumed from the stall: ${hits.join(', ')}`);
      assert.deepEqual(await store.listStatuses(), []);
    } finally {
      for (const res of held) res.destroy();
      await srv.close();
    }
  });

  it('17: a registry that always stalls: the pull fails after the retries, naming the stall', async () => {
    const held: ServerResponse[] = [];
    const srv = await serve((_req, res) => void held.push(res));
    try {
      const { store, refs } = await freshStore();
      const said: string[] = [];
      await assert.rejects(
        pullImage(`${srv.domain}/test/stall:1`, store, refs, { clientOptions: { retries: 1, backoffMs: 10, stallTimeoutMs: 500, onRetry: (m) => said.push(m) } }),
        (e: unknown) => e instanceof RegistryError
          && (e as Error).message === `manifest test/stall:1 from registry ${srv.domain}: stalled: no data from the registry for 500ms (gave up after 2 attempts)`,
      );
      assert.equal(held.length, 2);
      assert.deepEqual(said, [`manifest test/stall:1 from registry ${srv.domain}: stalled: no data from the registry for 500ms; retrying (attempt 2 of 2)`]);
    } finally {
      for (const res of held) res.destroy();
      await srv.close();
    }
  });

  it('gives up after a bounded number of 5xx', async () => {
    let n = 0;
    const srv = await serve((_req, res) => { n++; res.writeHead(500).end('{"errors":[{"code":"UNKNOWN","message":"boom"}]}'); });
    try {
      const { store } = await freshStore();
      const c = new RegistryClient(srv.domain, fast);
      await assert.rejects(c.fetchBlob('test/small', layer2.digest, store, layer2.bytes.length), /HTTP 500.*UNKNOWN: boom/);
      assert.equal(n, 4);
    } finally {
      await srv.close();
    }
  });

  it('Bearer auth: challenge, token per scope (cached), redirect to blob storage without Authorization', async () => {
    const tokenRequests: string[] = [];
    const storageAuth: (string | undefined)[] = [];
    const storage = await serve((req, res) => {
      storageAuth.push(req.headers.authorization);
      const d = new URL(req.url!, 'http://x').searchParams.get('d');
      const b = [layer1, layer2, cfgAmd].find((x) => x.digest === d);
      if (!b) return void res.writeHead(404).end();
      res.writeHead(200).end(b.bytes);
    });
    let tokens: Fake | undefined;
    const registry = await serve((req, res) => {
      const m = /^\/v2\/([^]+?)\/(manifests|blobs)\/(.+)$/.exec(req.url!);
      const repo = m?.[1] ?? '';
      const scope = `repository:${repo}:pull`;
      if (req.headers.authorization !== `Bearer tok-${scope}`) {
        res.writeHead(401, {
          'www-authenticate': `Bearer realm="${tokens!.url}/token",service="fake-registry",scope="${scope}"`,
          'content-type': 'application/json',
        });
        return void res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      }
      if (m?.[2] === 'manifests') {
        res.writeHead(200, { 'content-type': MEDIA_TYPE_DOCKER_MANIFEST, 'docker-content-digest': m1.digest });
        return void res.end(m1.bytes);
      }
      res.writeHead(307, { location: `${storage.url}/blob?d=${m?.[3]}` }).end();
    });
    tokens = await serve((req, res) => {
      const u = new URL(req.url!, 'http://x');
      tokenRequests.push(`${u.searchParams.get('service')} ${u.searchParams.get('scope')} ${req.headers.authorization ?? '-'}`);
      const want = `Basic ${Buffer.from('alice:s3cret').toString('base64')}`;
      if (req.headers.authorization !== want) return void res.writeHead(401).end('{"details":"bad credentials"}');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token: `tok-${u.searchParams.get('scope')}`, expires_in: 300 }));
    });
    try {
      const { store, refs } = await freshStore();
      // Wrong credentials: a clear error from the token endpoint.
      const bad = new RegistryClient(registry.domain, { ...fast, credentials: { username: 'alice', password: 'wrong' } });
      await assert.rejects(bad.getManifest('test/small', 'v1', [MEDIA_TYPE_DOCKER_MANIFEST]), /token from http:\/\/127\.0\.0\.1:\d+\/token for repository:test\/small:pull: HTTP 401/);

      tokenRequests.length = 0;
      const client = new RegistryClient(registry.domain, { ...fast, credentials: { username: 'alice', password: 's3cret' } });
      const r = await pullImage(`${registry.domain}/test/small:v1`, store, refs, { client, platform: { os: 'linux', architecture: 'amd64' } });
      assert.equal(r.manifestDigest, m1.digest);
      for (const b of [m1, cfgAmd, layer1, layer2]) assert.ok(await store.has(b.digest));
      assert.equal(tokenRequests.length, 1, `one token for the scope: ${tokenRequests.join(' | ')}`);
      assert.match(tokenRequests[0]!, /^fake-registry repository:test\/small:pull Basic /);
      assert.deepEqual(storageAuth, [undefined, undefined, undefined], 'Authorization not sent to another origin');
      // Another repository: another scope, another token.
      await client.getManifest('other/repo', 'v1', [MEDIA_TYPE_DOCKER_MANIFEST]);
      assert.equal(tokenRequests.length, 2);
      assert.match(tokenRequests[1]!, / repository:other\/repo:pull /);
    } finally {
      await Promise.all([registry.close(), storage.close(), tokens.close()]);
    }
  });

  it('resumes an interrupted blob from docker-registry with a Range request', async () => {
    const { store } = await freshStore();
    const w = await store.writer(`registry-blob-${layer1.digest}`, { expectedSize: layer1.bytes.length, expectedDigest: layer1.digest });
    await w.write(layer1.bytes.subarray(0, 25));
    await w.close();
    assert.equal((await store.status(`registry-blob-${layer1.digest}`))?.offset, 25);
    await new RegistryClient(reg.domain, fast).fetchBlob('test/small', layer1.digest, store, layer1.bytes.length);
    assert.deepEqual(await store.readAll(layer1.digest), layer1.bytes);
    assert.deepEqual(await store.listStatuses(), []);
  });

  it('Basic auth: credentials sent after a Basic challenge; none given → a clear error', async () => {
    const want = `Basic ${Buffer.from('bob:pw').toString('base64')}`;
    const srv = await serve((req, res) => {
      if (req.headers.authorization !== want) {
        return void res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"' }).end();
      }
      res.writeHead(200, { 'content-type': MEDIA_TYPE_DOCKER_MANIFEST }).end(m1.bytes);
    });
    try {
      const c = new RegistryClient(srv.domain, { ...fast, credentials: { username: 'bob', password: 'pw' } });
      assert.equal((await c.getManifest('test/small', 'v1', [MEDIA_TYPE_DOCKER_MANIFEST])).digest, m1.digest);
      await assert.rejects(new RegistryClient(srv.domain, fast).getManifest('test/small', 'v1', [MEDIA_TYPE_DOCKER_MANIFEST]),
        /wants Basic credentials and none were given/);
      await assert.rejects(new RegistryClient(srv.domain, { ...fast, credentials: { username: 'bob', password: 'no' } })
        .getManifest('test/small', 'v1', [MEDIA_TYPE_DOCKER_MANIFEST]), /HTTP 401 \(unauthorized/);
    } finally {
      await srv.close();
    }
  });
});
